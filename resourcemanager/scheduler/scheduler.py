"""One scheduling pass: place pending asks on nodes, queue by queue, and say why the rest wait.

Pure: it mutates only the SchedulerNode/SchedulerApp objects it is given and returns the
allocations and the reasons; the ResourceManager turns those into containers and messages.
The capacity policy serves the least-used queue (used / guaranteed) first and never lets a queue
pass its maximum capacity or its AM limit; FIFO is one queue holding the whole cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from miniyarn.records import ANY, Resource, ResourceRequest
from resourcemanager.scheduler.model import Allocation, SchedulerApp, SchedulerNode, ask_key
from resourcemanager.scheduler.queues import QueueConf


@dataclass
class PassResult:
    allocations: list[Allocation] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # app id -> why its asks wait
    truncated: bool = False  # the pass stopped at its allocation limit; asks remain to place


# One pass places at most this many containers: the RM answers AMs between passes, so a pass must stay
# short (~20 ms) for allocate round trips to stay short while thousands of containers are asked for.
MAX_ALLOCATIONS_PER_PASS = 256


def scaled(r: Resource, fraction: float) -> Resource:
    return Resource(memory=int(r.memory * fraction), vcores=int(r.vcores * fraction))


def total(resources: list[Resource]) -> Resource:
    # Plain int sums: a pass totals 1,000 nodes, and a Resource per addition was a tenth of the RM's CPU.
    return Resource.model_construct(memory=sum(r.memory for r in resources), vcores=sum(r.vcores for r in resources))


class Scheduler:
    def __init__(self, leaf_queues: list[QueueConf], max_allocations: int = MAX_ALLOCATIONS_PER_PASS) -> None:
        self.queues = {q.path: q for q in leaf_queues}
        self.max_allocations = max_allocations
        self._bound = (0, 0)
        self._reason_cache: dict[tuple[int, int, int, str], str] = {}
        # Whether an ask's size fits any node's capability: capabilities do not change within a pass.
        self._fits: dict[tuple[int, int], bool] = {}
        self._cursor = 0  # where the next node scan starts, so load spreads over nodes

    def am_limit(self, queue: QueueConf, cluster: Resource) -> Resource:
        return scaled(cluster, queue.absolute_max_capacity * queue.max_am_percent)

    def schedule(self, nodes: list[SchedulerNode], apps: list[SchedulerApp],
                 others: list[SchedulerApp] | None = None) -> PassResult:
        """Place the asks of `apps` (those with pending asks). `others` are the queues' remaining apps:
        nothing is placed for them, but their containers and running AMs count against the queues'
        capacities and AM limits. Counting only apps with pending asks let every new AM in: a burst of
        AMs then held the whole cluster and none of them got a container for its work."""
        result = PassResult()
        live_nodes = [n for n in nodes if n.schedulable]
        # An upper bound of any node's free memory and vcores: grants only lower it, so an ask above it
        # fits nowhere and needs no scan. On a full cluster that check is what keeps a pass short: every
        # waiting app used to scan every node (and work out its reason) on every pass.
        self._bound = (max((n.capability.memory - n.used.memory for n in live_nodes), default=0),
                       max((n.capability.vcores - n.used.vcores for n in live_nodes), default=0))
        self._reason_cache = {}
        self._fits = {}
        cluster = total([n.capability for n in live_nodes])
        # Placement scans only nodes with room left: on a nearly full cluster a scan of every node per
        # container placed was most of a pass.
        open_nodes = [n for n in live_nodes
                      if n.capability.memory > n.used.memory and n.capability.vcores > n.used.vcores]
        by_queue: dict[str, list[SchedulerApp]] = {}
        for app in apps:
            by_queue.setdefault(app.queue, []).append(app)
        members_of: dict[str, list[SchedulerApp]] = {path: list(members) for path, members in by_queue.items()}
        for app in others or []:
            if app.queue in members_of:
                members_of[app.queue].append(app)
        used = {path: total([a.used for a in members]) for path, members in members_of.items()}
        am_usage = {path: (total([a.am_resource for a in members if a.am_active]),
                           sum(1 for a in members if a.am_active)) for path, members in members_of.items()}

        def utilization(path: str) -> float:
            guaranteed = max(cluster.memory * self.queues[path].absolute_capacity, 1.0)
            return used[path].memory / guaranteed

        for path in sorted(by_queue, key=utilization):
            queue = self.queues.get(path)
            if queue is None:
                continue
            self._schedule_queue(queue, cluster, live_nodes, open_nodes, by_queue[path], used, am_usage[path],
                                 result)
            if result.truncated:
                break
        return result

    def _full(self, result: PassResult) -> bool:
        if len(result.allocations) >= self.max_allocations:
            result.truncated = True
        return result.truncated

    def _schedule_queue(self, queue: QueueConf, cluster: Resource, nodes: list[SchedulerNode],
                        open_nodes: list[SchedulerNode], apps: list[SchedulerApp], used: dict[str, Resource],
                        am_usage: tuple[Resource, int], result: PassResult) -> None:
        max_res = scaled(cluster, queue.absolute_max_capacity)
        am_limit = self.am_limit(queue, cluster)
        am_used, active = am_usage
        for app in sorted(apps, key=lambda a: (-a.priority, a.order)):
            if self._full(result):
                return
            if app.am_pending:
                if active > 0 and not (am_used + app.am_resource).fits_in(am_limit):
                    result.reasons[app.app_id] = (
                        "Application is added to the scheduler and is not yet activated. Queue's AM resource "
                        f"limit exceeded. Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = "
                        f"{app.am_resource}; Queue Resource Limit for AM = {am_limit}; Queue AM Resource Usage "
                        f"= {am_used}; queue {queue.path} already runs {active} AM(s)")
                    continue
                node = self._place(app.am_resource, open_nodes, None)
                if node is None:
                    result.reasons[app.app_id] = self._why(1, app.am_resource, nodes, "AM container")
                    continue
                self._grant(app, node, app.am_resource, 0, True, -1, used, result)
                app.am_pending = False
                app.am_active = True
                am_used = am_used + app.am_resource
                active += 1
                continue
            waiting: list[str] = []
            for req in sorted(app.pending_any(), key=lambda r: r.priority):
                cap = req.capability
                if not self._fits_some_node(cap, nodes):
                    waiting.append(self._why(req.num_containers, cap, nodes, "container"))
                    continue
                while req.num_containers > 0:
                    if self._full(result):
                        break
                    if not (used[queue.path] + cap).fits_in(max_res):
                        waiting.append(
                            f"wants {req.num_containers} × {cap}; queue {queue.path} is at its maximum "
                            f"capacity {max_res} (used {used[queue.path]})")
                        break
                    node = self._place(cap, open_nodes, self._local_rows(app, req))
                    if node is None:
                        waiting.append(self._why(req.num_containers, cap, nodes, "container"))
                        break
                    self._grant(app, node, cap, req.priority, False, req.allocation_request_id, used, result)
                    self._decrement(app, req, node.node_id)
            if waiting:
                result.reasons[app.app_id] = "; ".join(waiting)

    def _fits_some_node(self, cap: Resource, nodes: list[SchedulerNode]) -> bool:
        key = (cap.memory, cap.vcores)
        if key not in self._fits:
            self._fits[key] = any(cap.fits_in(n.capability) for n in nodes)
        return self._fits[key]

    @staticmethod
    def _local_rows(app: SchedulerApp, any_req: ResourceRequest) -> list[ResourceRequest]:
        return [r for r in app.asks.values()
                if r.resource_name != ANY and r.priority == any_req.priority
                and r.capability == any_req.capability and r.num_containers > 0]

    def _place(self, cap: Resource, nodes: list[SchedulerNode],
               local: list[ResourceRequest] | None) -> SchedulerNode | None:
        if not nodes:
            return None
        mem, vc = cap.memory, cap.vcores
        if local:
            wanted = {r.resource_name for r in local}
            for n in nodes:
                if n.node_id in wanted and mem <= n.capability.memory - n.used.memory \
                        and vc <= n.capability.vcores - n.used.vcores:
                    return n
        if mem > self._bound[0] or vc > self._bound[1]:
            return None
        count = len(nodes)
        start = self._cursor % count
        best_mem = best_vc = 0
        # Plain int comparisons: this loop visits up to every node per container placed.
        for i in range(count):
            n = nodes[(start + i) % count]
            free_mem, free_vc = n.capability.memory - n.used.memory, n.capability.vcores - n.used.vcores
            if mem <= free_mem and vc <= free_vc:
                self._cursor = start + i + 1
                return n
            best_mem, best_vc = max(best_mem, free_mem), max(best_vc, free_vc)
        self._bound = (best_mem, best_vc)  # exact now: no node has more
        return None

    @staticmethod
    def _decrement(app: SchedulerApp, any_req: ResourceRequest, node_id: str) -> None:
        any_req.num_containers -= 1
        local = app.asks.get((any_req.priority, node_id, any_req.capability.memory, any_req.capability.vcores))
        if local is not None and local.num_containers > 0:
            local.num_containers -= 1
            if local.num_containers == 0:
                app.asks.pop(ask_key(local), None)
        if any_req.num_containers == 0:
            app.asks.pop(ask_key(any_req), None)

    def _grant(self, app: SchedulerApp, node: SchedulerNode, cap: Resource, priority: int, is_am: bool,
               request_id: int, used: dict[str, Resource], result: PassResult) -> None:
        self._reason_cache.clear()
        node.used = node.used + cap
        app.used = app.used + cap
        used[app.queue] = used[app.queue] + cap
        result.allocations.append(Allocation(app.app_id, node.node_id, cap, priority, is_am, request_id))

    def _why(self, count: int, cap: Resource, nodes: list[SchedulerNode], what: str) -> str:
        # Grants clear the cache (they change the free space a reason names); between grants, every app
        # waiting for the same size gets the same reason without another pass over the nodes.
        key = (count, cap.memory, cap.vcores, what)
        if key not in self._reason_cache:
            self._reason_cache[key] = self._reason(count, cap, nodes, what)
        return self._reason_cache[key]

    def _reason(self, count: int, cap: Resource, nodes: list[SchedulerNode], what: str) -> str:
        if not nodes:
            return f"wants {count} × {cap}; no NodeManager is running (start one: miniyarn nodemanager)"
        largest_free = max(nodes, key=lambda n: (n.free.memory, n.free.vcores)).free
        biggest = max(nodes, key=lambda n: (n.capability.memory, n.capability.vcores)).capability
        if not self._fits_some_node(cap, nodes):
            return (f"wants {count} × {cap} ({what}); no node is big enough: the largest node has {biggest}")
        return f"wants {count} × {cap}; largest free node has {largest_free}"
