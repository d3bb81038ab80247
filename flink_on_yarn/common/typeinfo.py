"""Type information, accepted for PyFlink compatibility (`output_type=`); records travel as pickled Python values."""

from __future__ import annotations

from typing import Any


class TypeInformation:
    def __init__(self, name: str, fields: list[TypeInformation] | None = None) -> None:
        self.name = name
        self.fields = fields or []

    def __repr__(self) -> str:
        inner = ", ".join(repr(f) for f in self.fields)
        return f"{self.name}({inner})" if self.fields else self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeInformation) and (self.name, self.fields) == (other.name, other.fields)

    def __hash__(self) -> int:
        return hash(self.name)


class Row(tuple[Any, ...]):
    """PyFlink's Row, as a tuple: `Row("hello", 3)`."""

    def __new__(cls, *values: Any) -> Row:
        return super().__new__(cls, values)


class Types:
    @staticmethod
    def STRING() -> TypeInformation:
        return TypeInformation("STRING")

    @staticmethod
    def INT() -> TypeInformation:
        return TypeInformation("INT")

    @staticmethod
    def LONG() -> TypeInformation:
        return TypeInformation("LONG")

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
    def LIST(element_type: TypeInformation) -> TypeInformation:
        return TypeInformation("LIST", [element_type])
