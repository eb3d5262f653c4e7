"""Work spread over Ray actors (`prune --ray [ADDRESS]`): one actor per GPU or CPU slot, results in input order.

- Each actor builds its function once (the scoring model loads in its constructor) and then applies it to
  the items sent to it. The driver keeps `CALLS_PER_ACTOR` calls queued per actor, so an actor never
  waits for the driver between two items.
- Results come back in input order through a bounded window, so the caller writes its checkpoint files
  exactly as a single-process run does. A driver killed with kill -9 loses only the results held in the
  window; the caller appends a row only once it is complete, so a restarted run redoes those items and
  writes nothing twice.
- A worker that dies (its process killed, out of memory, its node lost) fails the calls it held: those
  items go back to the front of the queue for the next free actor, and Ray restarts the dead actor
  (which loads the model again) up to `MAX_RESTARTS` times. An item whose worker died `MAX_ATTEMPTS`
  times stops the run: it is then likely what kills them.
Ray is imported only when a run asks for it (the `ray` extra).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")

CALLS_PER_ACTOR = 2
WINDOW_PER_ACTOR = 8
"""Items held in order per actor: room for a slow item at the window's head while the others go on."""
MAX_ATTEMPTS = 3
MAX_RESTARTS = 3


class ClusterError(RuntimeError):
    """The cluster cannot do the work (Ray missing or unreachable, every actor gone); the message says why."""


@dataclass(frozen=True)
class RaySpec:
    """Where the actors run and what each one holds."""

    address: str | None
    """None: join the instance Ray finds (RAY_ADDRESS, or one started with `ray start`), else start one here."""
    gpus_per_actor: int = 1
    """GPUs one actor holds where the cluster has GPUs (vLLM's tensor-parallel size)."""
    cpu_only: bool = False
    """One actor per CPU slot even where the cluster has GPUs (as on a cluster without any)."""
    max_actors: int | None = None


class ScorerActor:
    """The body of one Ray actor: builds its function once, then applies it to what it is sent."""

    def __init__(self, factory: Callable[[], Callable[[Any], Any]]) -> None:
        self.error: str | None = None
        try:
            self.fn = factory()
        except Exception as error:  # handed to the driver by ready(), which stops with this one sentence
            self.error = str(error) or type(error).__name__

    def ready(self) -> tuple[str | None, str]:
        """(None once the function is built, else why it could not be; where this actor runs)."""
        import ray

        return self.error, f"pid {os.getpid()} on {ray.util.get_node_ip_address()}"

    def run(self, payload: Any) -> Any:
        return self.fn(payload)


@dataclass
class _Slot(Generic[K, T, R]):
    key: K
    payload: T | None
    result: R | None = None
    done: bool = False
    attempts: int = 0


@dataclass
class _Actor:
    handle: Any
    ready: bool = False
    calls: int = 0


def _log(message: str) -> None:
    print(f"ray: {message}", file=sys.stderr, flush=True)


def _check_reachable(address: str) -> None:
    """Refuse a HOST:PORT nobody listens on at once: ray.init would retry it for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise ClusterError(
            f"no Ray cluster answers at {address} ({error.strerror or error}): start one there with "
            "`ray start --head`, or pass --ray without an address for a local one"
        ) from error


def _connect(address: str | None) -> Any:
    try:
        import ray
    except ImportError as error:
        raise ClusterError('--ray needs Ray: pip install "limopro-plugins[ray]"') from error
    if address:
        _check_reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except ConnectionError as error:
        raise ClusterError(f"cannot join the Ray cluster at {address}: {error}") from error
    return ray


def _start(ray: Any, spec: RaySpec, factory: Callable[[], Any]) -> list[_Actor]:
    """Create the actors the cluster has room for, each building its function once."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    per_actor = 0 if spec.cpu_only or not gpus else spec.gpus_per_actor
    if per_actor:
        count = gpus // per_actor
        if count == 0:
            raise ClusterError(f"the Ray cluster has {gpus} GPU(s), fewer than the {per_actor} one scorer needs")
    else:
        count = max(1, cpus)
    count = min(count, spec.max_actors or count)
    unit = f"{per_actor} GPU(s)" if per_actor else "1 CPU"
    _log(f"{count} scorer actor(s), {unit} each, on a cluster of {cpus} CPU(s) and {gpus} GPU(s)")
    remote = ray.remote(ScorerActor).options(
        num_cpus=1, num_gpus=per_actor, max_restarts=MAX_RESTARTS, max_task_retries=0
    )
    return [_Actor(remote.remote(factory)) for _ in range(count)]


def _death_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """What a call fails with when its worker failed, not the code it ran (that error reaches the caller)."""
    errors = ray.exceptions
    return (errors.RayActorError, errors.WorkerCrashedError, errors.NodeDiedError, errors.OutOfMemoryError)


class _Pool(Generic[K, T, R]):
    """The actors, the items waiting for one, and the calls in flight."""

    def __init__(self, ray: Any, actors: list[_Actor], label: Callable[[K], str]) -> None:
        self.ray = ray
        self.actors = actors
        self.label = label
        self.died = _death_errors(ray)
        self.queue: deque[_Slot[K, T, R]] = deque()
        self.calls: dict[Any, tuple[_Slot[K, T, R], _Actor]] = {}
        self.probes: dict[Any, _Actor] = {actor.handle.ready.remote(): actor for actor in actors}

    def dispatch(self) -> None:
        for actor in sorted((a for a in self.actors if a.ready), key=lambda a: a.calls):
            while self.queue and actor.calls < CALLS_PER_ACTOR:
                slot = self.queue.popleft()
                self.calls[actor.handle.run.remote(slot.payload)] = (slot, actor)
                actor.calls += 1

    def wait(self) -> None:
        """Block until a call or a readiness probe finishes, and take it in."""
        if not self.calls and not self.probes:
            raise ClusterError(
                "every scorer actor died and Ray could not restart them (see the Ray logs); run the same "
                "command again to resume"
            )
        finished, _ = self.ray.wait([*self.calls, *self.probes], num_returns=1)
        for ref in finished:
            if ref in self.probes:
                self._probed(ref, self.probes.pop(ref))
            else:
                self._returned(ref, *self.calls.pop(ref))

    def _probed(self, ref: Any, actor: _Actor) -> None:
        try:
            error, where = self.ray.get(ref)
        except self.died:
            self.actors.remove(actor)
            _log(f"a scorer actor is gone for good (restarted {MAX_RESTARTS} times); {len(self.actors)} left")
            return
        if error:
            raise ClusterError(error)
        actor.ready = True
        _log(f"scorer ready: {where} ({sum(a.ready for a in self.actors)} of {len(self.actors)})")

    def _returned(self, ref: Any, slot: _Slot[K, T, R], actor: _Actor) -> None:
        actor.calls -= 1
        try:
            slot.result = self.ray.get(ref)
        except self.died as error:
            slot.attempts += 1
            if slot.attempts >= MAX_ATTEMPTS:
                raise ClusterError(
                    f"{self.label(slot.key)}: {slot.attempts} workers died while scoring it (out of memory?); "
                    "see the Ray logs"
                ) from error
            _log(
                f"the worker scoring {self.label(slot.key)} died ({type(error).__name__}); it goes to the next free one"
            )
            self.queue.appendleft(slot)
            if actor.ready:  # back once Ray has restarted it (or gone, if it cannot)
                actor.ready = False
                self.probes[actor.handle.ready.remote()] = actor
            return
        slot.done = True


def imap_ordered(
    factory: Callable[[], Callable[[T], R]],
    items: Iterable[tuple[K, T | None]],
    spec: RaySpec,
    label: Callable[[K], str],
) -> Generator[tuple[K, R | None], None, None]:
    """(key, factory()(payload)) for each (key, payload), in input order, computed on Ray actors; a None
    payload needs no work and passes through as (key, None). Ray starts at the first payload, and stops
    (or this job leaves the cluster, its actors with it) when the iterator ends or is closed."""
    window: deque[_Slot[K, T, R]] = deque()
    source = iter(items)
    exhausted = False
    pool: _Pool[K, T, R] | None = None
    ray: Any = None
    try:
        while True:
            while not exhausted and len(window) < WINDOW_PER_ACTOR * (len(pool.actors) if pool else 1):
                try:
                    key, payload = next(source)
                except StopIteration:
                    exhausted = True
                    break
                slot: _Slot[K, T, R] = _Slot(key, payload, done=payload is None)
                window.append(slot)
                if payload is not None:
                    if pool is None:
                        ray = _connect(spec.address)
                        pool = _Pool(ray, _start(ray, spec, factory), label)
                    pool.queue.append(slot)
            while window and window[0].done:
                head = window.popleft()
                yield head.key, head.result
            if exhausted and not window:
                return
            assert pool is not None  # an item not done has a payload, which started the pool
            pool.dispatch()
            pool.wait()
    finally:
        if ray is not None:
            ray.shutdown()
