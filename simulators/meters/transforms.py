"""Stream faults on a gateway's publications: duplicates and out-of-order delivery, both seeded."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np
import orjson

from simulators.meters.truth import Publication


def add_fault(pub: Publication, fault: str) -> Publication:
    """Return `pub` tagged with one more fault ("a+b" when it already had one)."""
    return dataclasses.replace(pub, fault=fault if pub.fault is None else f"{pub.fault}+{fault}")


def duplicates(
    pubs: Iterable[Publication], rate: float, window: int, rng: np.random.Generator
) -> Iterator[Publication]:
    """Resend some publications (whole, or one good reading alone) 0..window publications later."""
    pending: list[tuple[int, int, Publication]] = []  # (originals still to pass, tie-break, copy)
    counter = 0
    for pub in pubs:
        if pub.is_status:  # a status change is a barrier: nothing crosses it
            yield from (p for _, _, p in sorted(pending))
            pending = []
            yield pub
            continue
        yield pub
        pending = [(n - 1, c, p) for n, c, p in pending]
        yield from (p for n, _, p in sorted(pending) if n <= 0)
        pending = [h for h in pending if h[0] > 0]
        if rate and rng.random() < rate:
            copy = _copy(pub, rng)
            lag = int(rng.integers(0, window + 1))
            if lag == 0:
                yield copy
            else:
                counter += 1
                pending.append((lag, counter, copy))
    yield from (p for _, _, p in sorted(pending))


def _copy(pub: Publication, rng: np.random.Generator) -> Publication:
    """A duplicate of `pub`: the same bytes, or (for a clean batch, half the time) one of its readings alone."""
    if pub.well_formed and len(pub.readings) > 1 and rng.random() < 0.5:
        entries = orjson.loads(pub.payload)["readings"]
        i = int(rng.integers(len(entries)))
        alone = dataclasses.replace(pub, payload=orjson.dumps(entries[i]), readings=(pub.readings[i],))
        return add_fault(alone, "duplicate")
    return add_fault(pub, "duplicate")


def reorder(pubs: Iterable[Publication], rate: float, window: int, rng: np.random.Generator) -> Iterator[Publication]:
    """Hold some publications back by 1..window publications, so they arrive after later ones."""
    held: list[tuple[int, int, Publication]] = []  # (publications still to pass, tie-break, held one)
    counter = 0
    for pub in pubs:
        if pub.is_status:
            yield from (p for _, _, p in sorted(held))
            held.clear()
            yield pub
            continue
        if rate and rng.random() < rate:
            counter += 1
            held.append((int(rng.integers(1, window + 1)), counter, add_fault(pub, "out_of_order")))
            continue
        yield pub
        held = [(n - 1, c, p) for n, c, p in held]
        yield from (p for n, _, p in sorted(held) if n <= 0)
        held = [h for h in held if h[0] > 0]
    yield from (p for _, _, p in sorted(held))


def monotonic_due(pubs: Iterable[Publication]) -> Iterator[Publication]:
    """Make due times non-decreasing: a held-back publication goes out when the one before it does."""
    latest = None
    for pub in pubs:
        if latest is not None and pub.due_ms < latest:
            pub = dataclasses.replace(pub, due_ms=latest)
        latest = pub.due_ms
        yield pub
