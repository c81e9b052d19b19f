"""The backprop-through-time figure of lesson 10 (bpkit.viz.bptt_figure)."""
from __future__ import annotations

import pytest

from bpkit.viz import bptt_figure

NORMS = {0: 0.0374, 1: 0.1094, 2: 0.3664, 3: 1.1646}


def test_each_backward_step_lights_up_one_more_state_from_the_end_with_its_norm():
    fig = bptt_figure(NORMS)
    assert [frame.name for frame in fig.frames] == ["0", "1", "2", "3", "4"]
    assert [list(step.args[0]) for step in fig.layout.sliders[0].steps] == [["0"], ["1"], ["2"], ["3"], ["4"]]
    for k, frame in enumerate(fig.frames):
        states = frame.data[0]
        assert frame.traces == (2,)
        assert list(states.marker.color) == ["lightgray"] * (4 - k) + ["crimson"] * k
        labelled = [text for text in states.text if "|dh|" in text]
        assert labelled == [f"h{t + 1}<br>|dh|={NORMS[t]:.2f}" for t in range(4 - k, 4)]
    assert list(fig.data[2].marker.color) == ["lightgray"] * 4, "the figure opens before any gradient has arrived"


def test_the_weight_labels_sit_between_the_states_not_on_them():
    """The W_h labels were drawn at the arrow heads, on top of the red circles, where they could not be read."""
    fig = bptt_figure(NORMS)
    labels = [a for a in fig.layout.annotations if a.text == "W<sub>h</sub>"]
    assert len(labels) == 3
    for a in labels:
        assert not a.showarrow
        assert min(abs(a.x - t) for t in range(4)) >= 0.4, f"W_h label at x = {a.x} is on a state"


def test_norms_must_be_numbered_from_zero():
    with pytest.raises(ValueError, match="keys 0 .. T-1"):
        bptt_figure({1: 0.1, 2: 0.2})
