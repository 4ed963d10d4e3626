"""The graph of components a turn runs, built once per set of targets.

Rasa 3.6's ``DaskGraphRunner.run`` works out, on every call (the NLU parse
and each policy prediction of every turn), which nodes its targets need (a
recursive walk of the schema: 4-5% of a Rasa process's busy samples) and
builds a dask graph from them, and formats its inputs (the tracker) into a
debug line whether it is logged or not. The schema and the nodes do not
change once a model is loaded, so the graph is worked out once per targets.

Rasa then hands the graph to dask's synchronous scheduler, which orders its
tasks afresh on every call (``dask.order``, task bookkeeping for a scheduler
built for many workers: 6-8% of a Rasa process's busy samples). Here the
order is worked out once as well (:func:`plan`) and the tasks run in it, as
dask runs a task: each node called with its parents' outputs, an input as
the ``(name, value)`` pair Rasa puts in the graph, and a name nothing
provides as the name itself. ``tests/bot/test_rasa_speedups.py`` holds the
outputs equal to ``dask.get`` on the trained model's graphs.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Set, Text, Tuple

#: a graph's tasks in an order that runs every node after its parents: (name, node, parents' names)
Plan = List[Tuple[Text, Callable[..., Any], Tuple[Any, ...]]]


def plan(graph: Dict[Text, Any], targets: List[Text]) -> Plan:
    """The tasks of the dask-style ``graph`` (``{name: (node, *parent names)}``)
    that ``targets`` need, parents first."""
    order: Plan = []
    seen: Set[Text] = set()

    def visit(name: Text) -> None:
        if name in seen or name not in graph:
            return
        seen.add(name)
        node, *parents = graph[name]
        for parent in parents:
            if isinstance(parent, str):
                visit(parent)
        order.append((name, node, tuple(parents)))

    for target in targets:
        visit(target)
    return order


def execute(tasks: Plan, inputs: Optional[Dict[Text, Any]], targets: List[Text]) -> Dict[Text, Any]:
    """Run ``tasks`` as ``dict(dask.get(graph with the inputs, targets))`` does."""
    done: Dict[Any, Any] = {name: (name, value) for name, value in (inputs or {}).items()}
    for name, node, parents in tasks:
        if name in done:  # an input named as a node stands in for it, as in dask's graph
            continue
        done[name] = node(*[done.get(parent, parent) if isinstance(parent, str) else parent
                            for parent in parents])
    return dict(done[target] for target in targets)


def install() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner import dask as rasa_dask
    from rasa.engine.runner.dask import DaskGraphRunner

    log = rasa_dask.logger

    def run(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        built: Dict[Tuple[Text, ...], Tuple[Dict[Text, Any], Plan]] = self.__dict__.setdefault("_kara_graphs", {})
        found = built.get(tuple(run_targets))
        if found is None:
            graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
            found = built[tuple(run_targets)] = (graph, plan(graph, run_targets))
        graph, tasks = found
        for value in (inputs or {}).values():  # Rasa's check (_add_inputs_to_graph)
            if isinstance(value, str) and value in graph:
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema.")
        if log.isEnabledFor(logging.DEBUG):
            log.debug(f"Running graph with inputs: {inputs}, targets: {targets} "
                      f"and {self._execution_context}.")
        try:
            return execute(tasks, inputs, run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run  # type: ignore[method-assign]
