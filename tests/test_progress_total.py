"""With ``--minutes``, the progress bar's total is the step the time budget will end the run
at (``train.expected_last_step``), not ``--max-steps``: before, a 15-minute run with the
default 2000 steps could end with the bar at 5% and an ETA of hours."""
from __future__ import annotations

from rnnkit.progress import expected_last_step

INF = float("inf")


def test_without_a_time_budget_the_total_is_max_steps():
    assert expected_last_step(2000, 10, 5.0, INF, 10, 5.0) == 2000


def test_before_any_step_the_total_is_max_steps():
    assert expected_last_step(2000, 0, 0.0, 60.0, 0, 0.0) == 2000


def test_the_budget_is_extrapolated_at_the_pace_so_far():
    # 100 steps in 10 s, 50 s of a 60 s budget left: about 500 more steps
    assert expected_last_step(2000, 100, 10.0, 60.0, 100, 10.0) == 600


def test_max_steps_caps_the_estimate():
    assert expected_last_step(300, 100, 10.0, 60.0, 100, 10.0) == 300


def test_a_resumed_run_uses_this_sessions_pace_and_its_total_elapsed_time():
    # resumed at step 1000 with 50 s already used; this session ran 20 steps in 4 s
    assert expected_last_step(5000, 1020, 54.0, 60.0, 20, 4.0) == 1020 + 30


def test_an_exhausted_budget_ends_at_the_current_step():
    assert expected_last_step(2000, 700, 61.0, 60.0, 700, 61.0) == 700   # the bar reads 700/700
