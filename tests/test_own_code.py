"""check() warns when a student's function uses bpkit by name: the grader runs it without bpkit (it fails there)."""
from __future__ import annotations

import numpy as np
import pytest

import bpkit.nn.functional as F
from bpkit.exercises import check
from bpkit.exercises.catalog import all_exercises, get_exercise
from bpkit.exercises.own_code import course_names
from bpkit.nn import Linear


def _helper(dout, x):
    return F.relu_backward(dout, x > 0)


def relu_backward_direct(dout, x):
    return F.relu_backward(dout, x > 0)


def relu_backward_through_a_helper(dout, x):
    return _helper(dout, x)


def relu_backward_importing_inside(dout, x):
    from bpkit.nn.functional import relu_backward
    return relu_backward(dout, x > 0)


def relu_backward_numpy(dout, x):
    check("ex03")          # noqa: F841 - check() is a no-op while grading: allowed
    return dout * (x > 0)


class Value:
    def __init__(self, data):
        self.data = data

    def tanh(self):
        layer = Linear(1, 1)           # bpkit inside a method
        return layer


@pytest.mark.parametrize("fn, names", [
    (relu_backward_direct, {"F": "bpkit.nn.functional"}),
    (relu_backward_through_a_helper, {"F": "bpkit.nn.functional"}),
    (relu_backward_importing_inside, {"functional": "bpkit.nn.functional"}),
    (relu_backward_numpy, {}),
    (Value, {"Linear": "bpkit.nn.layers"}),
])
def test_course_names_finds_bpkit_by_name_through_helpers_and_methods(fn, names):
    assert course_names(fn) == names


def test_check_passes_a_function_built_on_bpkit_but_warns_that_grading_will_fail():
    report = check("relu_backward", namespace={"relu_backward": relu_backward_direct})
    assert report.score == report.max_score
    (warning,) = report.warnings
    assert "F (bpkit.nn.functional)" in warning and "fails and is flagged" in warning
    assert "warning: relu_backward uses the course's own code" in str(report)
    assert "warning:" in report._repr_html_()


def test_no_reference_solution_is_warned_about():
    for exercise_id in all_exercises():
        exercise = get_exercise(exercise_id)
        for spec in exercise.functions:
            assert course_names(exercise.reference(spec.name)) == {}, (exercise_id, spec.name)


def test_an_object_passed_in_is_not_a_name_looked_up():
    def saliency(model, x, cls):          # the model is bpkit's, handed in by the check: fine
        return model.backward(np.ones_like(model.forward(x)))
    assert course_names(saliency) == {}
