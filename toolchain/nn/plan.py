"""Static memory plan for a generated network: one arena, buffers reused across time.

Every activation tensor lives from the step that writes it (graph inputs: before
step 0) to the last step that reads it (graph outputs: to the end). Tensors that
alias (RESHAPE, EXPAND_DIMS, SQUEEZE produce no code; their output is their input's
bytes) form one buffer whose life is the union of theirs. Buffers are placed
largest first at the lowest offset that clashes with no buffer alive at the same
time, the greedy-by-size scheme TFLite Micro's GreedyMemoryPlanner also uses.
A step's outputs never share memory with its inputs: the kernels do not run in
place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 4  # int32/float tensors need it; TFLM aligns to 16


@dataclass
class Buffer:
    tensors: list[int]
    size: int
    first: int  # step that writes it (-1: graph input)
    last: int  # last step that reads it (n_steps: graph output)
    offset: int = -1


@dataclass
class Plan:
    arena_bytes: int
    offsets: dict[int, int]  # tensor index -> byte offset in the arena
    buffers: list[Buffer] = field(default_factory=list)

    def describe(self, op_of_step: list[int] | None = None) -> list[str]:
        """One line per buffer, for the generated file's header comment; live ranges are
        given as TFLite operator indices when `op_of_step` maps steps to them."""
        def op(k: int) -> str:
            if k < 0:
                return "in"
            if op_of_step is None:
                return str(k)
            return "out" if k >= len(op_of_step) else str(op_of_step[k])

        lines = []
        for b in sorted(self.buffers, key=lambda b: b.offset):
            names = ",".join(f"t{t}" for t in b.tensors)
            lines.append(f"[{b.offset:6d}, {b.offset + b.size:6d})  ops {op(b.first):>3s}..{op(b.last):>3s}  {names}")
        return lines


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(sizes: dict[int, int], writes: dict[int, int], reads: dict[int, list[int]],
                graph_inputs: list[int], graph_outputs: list[int], n_steps: int,
                aliases: list[tuple[int, int]]) -> Plan:
    """sizes: bytes per activation tensor; writes: tensor -> step writing it;
    reads: tensor -> steps reading it; aliases: (output, input) pairs sharing bytes."""
    parent = {t: t for t in sizes}

    def find(t: int) -> int:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for a, b in aliases:
        parent[find(a)] = find(b)

    groups: dict[int, Buffer] = {}
    for t, size in sizes.items():
        root = find(t)
        first = -1 if t in graph_inputs else writes.get(t, -1)
        last = max(reads.get(t, []), default=first)
        if t in graph_outputs:
            last = n_steps
        g = groups.get(root)
        if g is None:
            groups[root] = Buffer([t], size, first, last)
        else:
            g.tensors.append(t)
            g.size = max(g.size, size)
            g.first = min(g.first, first)
            g.last = max(g.last, last)

    placed: list[Buffer] = []
    # Largest first; ties by birth so the plan is deterministic.
    for buf in sorted(groups.values(), key=lambda b: (-b.size, b.first, min(b.tensors))):
        clashes = sorted((p for p in placed if not (p.last < buf.first or buf.last < p.first)),
                         key=lambda p: p.offset)
        offset = 0
        for p in clashes:
            if offset + buf.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        buf.offset = offset
        placed.append(buf)

    arena = max((_align(b.offset + b.size) for b in placed), default=0)
    offsets = {t: b.offset for b in placed for t in b.tensors}
    return Plan(arena, offsets, sorted(placed, key=lambda b: b.offset))


def check_plan(plan: Plan) -> None:
    """Assert no two buffers alive at the same step overlap in memory."""
    bs = plan.buffers
    for i, a in enumerate(bs):
        for b in bs[i + 1:]:
            if a.last < b.first or b.last < a.first:
                continue
            if a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                raise AssertionError(f"buffers {a.tensors} and {b.tensors} overlap while both alive")
