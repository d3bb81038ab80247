"""Type information as PyFlink declares it (`output_type=`, `type_info=`), and what it changes at run time.

Records travel as Python values whatever their type; the type says two things PyFlink users can see:
* how `print()` writes a record: a typed record as Java's `toString` of the Java value PyFlink would hold
  (`Types.TUPLE` → `(hello,3)`, `Types.ROW` → `+I[1, abc]`, `Types.FLOAT` → `1.1`), an untyped one
  (`PICKLED_BYTE_ARRAY`, PyFlink's default) as Python's `str` (`('hello', 3)`, `(2, {'a': 1})`);
* what a value becomes on the way through a typed operator output: `FLOAT` keeps 32 bits, as Java's float does
  (`110.1` comes back as `110.0999984741211`), a `ROW_NAMED` tuple becomes a `Row` with field access.

>>> t = Types.TUPLE([Types.STRING(), Types.INT()])
>>> t.to_string(("hello", 3)), Types.PICKLED_BYTE_ARRAY().to_string(("hello", 3))
('(hello,3)', "('hello', 3)")
>>> Types.ROW_NAMED(["id", "f"], [Types.INT(), Types.FLOAT()]).from_python((1, 0.1)).f
0.10000000149011612
"""

from __future__ import annotations

import math
import struct
from typing import Any

from flink_on_yarn.common.text import format_record

_F32 = struct.Struct("<f")

# Types whose Python value passes through a Java round trip unchanged: no conversion needed for them.
_IDENTITY = {"STRING", "INT", "LONG", "SHORT", "BYTE", "BIG_INT", "BIG_DEC", "DOUBLE", "BOOLEAN", "CHAR",
             "PICKLED_BYTE_ARRAY", "PRIMITIVE_ARRAY", "BASIC_ARRAY", "SQL_DATE", "SQL_TIME", "SQL_TIMESTAMP",
             "INSTANT"}


def to_float32(x: float) -> float:
    """The float a Java `float` holds for `x`, as a Python float."""
    return float(_F32.unpack(_F32.pack(x))[0])


def _java_digits(x: float, float32: bool) -> str:
    """Shortest digits that read back as `x` (Java's Float/Double.toString since JDK 19 choose them so)."""
    if not float32:
        return repr(x)
    for precision in range(1, 10):
        text = f"{x:.{precision}g}"
        if to_float32(float(text)) == x:
            return text
    return repr(x)


def java_float_string(x: float, float32: bool = False) -> str:
    """Java's `Double.toString` / `Float.toString`: `1.0`, `0.001`, `1.0E7`, `1.0E-4`, `NaN`, `Infinity`.

    >>> java_float_string(1.0), java_float_string(1e7), java_float_string(1.1e-4), java_float_string(0.1, True)
    ('1.0', '1.0E7', '1.1E-4', '0.1')
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    digits = _java_digits(x, float32)
    mantissa, _, exp = digits.lower().partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    int_part, _, frac = mantissa.partition(".")
    all_digits = (int_part + frac).lstrip("0")
    # The decimal exponent of the first significant digit.
    point = len(int_part) + (int(exp) if exp else 0)
    if int_part == "0" or not int_part.strip("0"):
        point = -(len(frac) - len(frac.lstrip("0"))) + (int(exp) if exp else 0)
    all_digits = all_digits.rstrip("0") or "0"
    if 1e-3 <= abs(x) < 1e7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{all_digits}"
        whole = all_digits[:point].ljust(point, "0")
        rest = all_digits[point:] or "0"
        return f"{sign}{whole}.{rest}"
    return f"{sign}{all_digits[0]}.{all_digits[1:] or '0'}E{point - 1}"


class TypeInformation:
    def __init__(self, name: str, fields: list[TypeInformation] | None = None,
                 names: list[str] | None = None) -> None:
        self.name = name
        self.fields = fields or []
        self.names = names

    def __repr__(self) -> str:
        inner = ", ".join(repr(f) for f in self.fields)
        return f"{self.name}({inner})" if self.fields else self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeInformation) and \
            (self.name, self.fields, self.names) == (other.name, other.fields, other.names)

    def __hash__(self) -> int:
        return hash(self.name)

    def get_field_names(self) -> list[str]:
        return list(self.names or [f"f{i}" for i in range(len(self.fields))])

    @property
    def is_pickled(self) -> bool:
        return self.name == "PICKLED_BYTE_ARRAY"

    @property
    def needs_conversion(self) -> bool:
        """False when `from_python` is the identity, so operators skip the per-record call."""
        if self.name in _IDENTITY and not self.fields:
            return False
        return self.name in ("FLOAT", "ROW") or any(f.needs_conversion for f in self.fields)

    def from_python(self, value: Any) -> Any:
        """The value as PyFlink hands it to the next Python function after a Java round trip."""
        name = self.name
        if value is None:
            return None
        if name == "FLOAT":
            return to_float32(value)
        if name == "ROW":
            values = [t.from_python(v) for t, v in zip(self.fields, value, strict=False)]
            return Row._make(values, self.names)
        if name == "TUPLE":
            return tuple(t.from_python(v) for t, v in zip(self.fields, value, strict=False))
        if name == "LIST" and self.fields:
            return [self.fields[0].from_python(v) for v in value]
        if name == "MAP" and len(self.fields) == 2:
            kt, vt = self.fields
            return {kt.from_python(k): vt.from_python(v) for k, v in value.items()}
        return value

    def to_string(self, value: Any) -> str:
        """What Flink's `print()` writes for this value: Java's toString of the Java value, Python's str if untyped."""
        name = self.name
        if value is None:
            return "null"
        if name == "PICKLED_BYTE_ARRAY":
            return str(value)
        if name == "STRING" or name == "CHAR":
            return str(value)
        if name == "BOOLEAN":
            return "true" if value else "false"
        if name == "FLOAT" or name == "DOUBLE":
            return java_float_string(float(value), name == "FLOAT")
        if name == "TUPLE":
            if len(self.fields) == 2 and self.fields[0].name == "STRING" and self.fields[1].name in ("INT", "LONG"):
                return format_record(value)  # the word count's record: the fast path
            return "(" + ",".join(t.to_string(v) for t, v in zip(self.fields, value, strict=False)) + ")"
        if name == "ROW":
            kind = value.kind_short() if isinstance(value, Row) else "+I"
            return kind + "[" + ", ".join(t.to_string(v) for t, v in zip(self.fields, value, strict=False)) + "]"
        if name in ("LIST", "BASIC_ARRAY", "PRIMITIVE_ARRAY") and self.fields:
            return "[" + ", ".join(self.fields[0].to_string(v) for v in value) + "]"
        if name == "MAP" and len(self.fields) == 2:
            kt, vt = self.fields
            return "{" + ", ".join(f"{kt.to_string(k)}={vt.to_string(v)}" for k, v in value.items()) + "}"
        return format_record(value)


class RecordFormatter:
    """A picklable `record -> text` for a sink: the type's `to_string` (untyped: Python's str)."""

    def __init__(self, type_info: TypeInformation | None) -> None:
        self.type_info = type_info or Types.PICKLED_BYTE_ARRAY()

    def __call__(self, value: Any) -> str:
        return self.type_info.to_string(value)


class RowKind:
    """Flink's RowKind, with the short strings `Row.toString` prefixes."""

    INSERT = "+I"
    UPDATE_BEFORE = "-U"
    UPDATE_AFTER = "+U"
    DELETE = "-D"


class Row(tuple[Any, ...]):
    """PyFlink's Row: positional values, optionally named (`row.id`, `row["id"]`), a tuple underneath.

    >>> r = Row(id=1, name="a")
    >>> r, r.name, r["id"], r.as_dict()
    (Row(id=1, name='a'), 'a', 1, {'id': 1, 'name': 'a'})
    >>> Row(1, "a")
    <Row(1, 'a')>
    """

    _fields: list[str] | None
    _kind: str

    def __new__(cls, *values: Any, **named: Any) -> Row:
        if values and named:
            raise ValueError("Can not use both args and kwargs to create Row")
        if named:
            # PyFlink sorts keyword fields by name.
            names = sorted(named)
            return cls._make([named[n] for n in names], names)
        return cls._make(list(values), None)

    @classmethod
    def _make(cls, values: list[Any], names: list[str] | None, kind: str = RowKind.INSERT) -> Row:
        row = super().__new__(cls, values)
        object.__setattr__(row, "_fields", list(names) if names is not None else None)
        object.__setattr__(row, "_kind", kind)
        return row

    def __reduce__(self) -> tuple[Any, ...]:
        return Row._make, (list(self), self._fields, self._kind)

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):
            raise AttributeError(item)
        names = self.__dict__.get("_fields")
        if names is None or item not in names:
            raise AttributeError(item)
        return tuple.__getitem__(self, names.index(item))

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, int | slice):
            return tuple.__getitem__(self, item)
        if self._fields is None or item not in self._fields:
            raise KeyError(item)
        return tuple.__getitem__(self, self._fields.index(item))

    def as_dict(self) -> dict[str, Any]:
        if self._fields is None:
            raise TypeError("Cannot convert a Row class into dict")
        return dict(zip(self._fields, self, strict=True))

    def set_field_names(self, field_names: list[str]) -> None:
        object.__setattr__(self, "_fields", list(field_names))

    def get_row_kind(self) -> str:
        return self._kind

    def set_row_kind(self, row_kind: str) -> None:
        object.__setattr__(self, "_kind", row_kind)

    def kind_short(self) -> str:
        return self._kind

    def __repr__(self) -> str:
        if self._fields is not None:
            return "Row(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self, strict=False)) + ")"
        return "<Row(" + ", ".join(repr(v) for v in self) + ")>"

    __str__ = __repr__


class Types:
    @staticmethod
    def STRING() -> TypeInformation:
        return TypeInformation("STRING")

    @staticmethod
    def CHAR() -> TypeInformation:
        return TypeInformation("CHAR")

    @staticmethod
    def BYTE() -> TypeInformation:
        return TypeInformation("BYTE")

    @staticmethod
    def SHORT() -> TypeInformation:
        return TypeInformation("SHORT")

    @staticmethod
    def INT() -> TypeInformation:
        return TypeInformation("INT")

    @staticmethod
    def LONG() -> TypeInformation:
        return TypeInformation("LONG")

    @staticmethod
    def BIG_INT() -> TypeInformation:
        return TypeInformation("BIG_INT")

    @staticmethod
    def FLOAT() -> TypeInformation:
        return TypeInformation("FLOAT")

    @staticmethod
    def DOUBLE() -> TypeInformation:
        return TypeInformation("DOUBLE")

    @staticmethod
    def BOOLEAN() -> TypeInformation:
        return TypeInformation("BOOLEAN")

    @staticmethod
    def PICKLED_BYTE_ARRAY() -> TypeInformation:
        return TypeInformation("PICKLED_BYTE_ARRAY")

    @staticmethod
    def TUPLE(field_types: list[TypeInformation]) -> TypeInformation:
        return TypeInformation("TUPLE", list(field_types))

    @staticmethod
    def ROW(field_types: list[TypeInformation]) -> TypeInformation:
        return TypeInformation("ROW", list(field_types))

    @staticmethod
    def ROW_NAMED(field_names: list[str], field_types: list[TypeInformation]) -> TypeInformation:
        if len(field_names) != len(field_types):
            raise ValueError(f"ROW_NAMED has {len(field_names)} names and {len(field_types)} types")
        return TypeInformation("ROW", list(field_types), list(field_names))

    @staticmethod
    def LIST(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("LIST", [element_type])

    @staticmethod
    def BASIC_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("BASIC_ARRAY", [element_type])

    @staticmethod
    def PRIMITIVE_ARRAY(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("PRIMITIVE_ARRAY", [element_type])

    @staticmethod
    def MAP(key_type_info: TypeInformation, value_type_info: TypeInformation) -> TypeInformation:
        return TypeInformation("MAP", [key_type_info, value_type_info])
