"""The graph of components a turn runs, built once per set of targets.

Rasa 3.6's ``DaskGraphRunner.run`` works out, on every call (the NLU parse
and each policy prediction of every turn), which nodes its targets need (a
recursive walk of the schema: 4-5% of a Rasa process's busy samples) and
builds a dask graph from them, and formats its inputs (the tracker) into a
debug line whether it is logged or not. The schema and the nodes do not
change once a model is loaded, so the dask graph is kept per targets and
copied for each run (the run adds its inputs to it).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple


def install() -> None:
    import dask
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner import dask as rasa_dask
    from rasa.engine.runner.dask import DaskGraphRunner

    log = rasa_dask.logger

    def run(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        built: Dict[Tuple[Text, ...], Dict[Text, Any]] = self.__dict__.setdefault("_kara_graphs", {})
        graph = built.get(tuple(run_targets))
        if graph is None:
            graph = built[tuple(run_targets)] = self._build_dask_graph(
                self._graph_schema.minimal_graph_schema(run_targets))
        run_graph = dict(graph)
        if inputs:
            self._add_inputs_to_graph(inputs, run_graph)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(f"Running graph with inputs: {inputs}, targets: {targets} "
                      f"and {self._execution_context}.")
        try:
            return dict(dask.get(run_graph, run_targets))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run  # type: ignore[method-assign]
