"""Summary sections printed after the run (the fault suite's and the multi-host bed's figures).

A section is ``(title, [(line, markup)])``, markup being keyword arguments of ``write_line``
(``{"red": True, "bold": True}``). Under xdist the tests run in worker processes whose terminal
nobody sees: a worker hands its sections to the controller in ``config.workeroutput`` at the end of
its session, and the controller prints them (tests/conftest.py). Without xdist they print directly.
"""

from __future__ import annotations

KEY = "summary_sections"


def is_xdist_worker(config) -> bool:
    return hasattr(config, "workeroutput")


def hand_to_controller(config, section) -> None:
    """From an xdist worker's pytest_sessionfinish: the controller prints ``section``."""
    if section is not None and is_xdist_worker(config):
        config.workeroutput.setdefault(KEY, []).append(section)


def write_here(terminalreporter, section) -> None:
    """From pytest_terminal_summary: print ``section`` unless an xdist worker hands it on instead."""
    if section is not None and not is_xdist_worker(terminalreporter.config):
        write(terminalreporter, section)


def from_worker(node) -> list:
    return list(getattr(node, "workeroutput", {}).get(KEY, []))


def write(terminalreporter, section) -> None:
    title, lines = section
    terminalreporter.section(title)
    for line, markup in lines:
        terminalreporter.write_line(line, **markup)
