import numpy as np
import pytest

from pixelpad.actions import INDEX, MENU_BUTTONS
from pixelpad.eval.agents import ChunkAgent, RandomAgent, chunk_stride, policy_label
from pixelpad.eval.errors import EvalError

FRAME = np.zeros((8, 8, 3), np.uint8)


def test_random_agent_is_seeded_holds_and_never_presses_menu_buttons():
    def play(seed):
        agent = RandomAgent(hold=4)
        agent.reset(seed)
        return np.stack([agent.act(FRAME) for _ in range(40)])

    a, b, c = play(1), play(1), play(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a[0] == a[3]).all() and not (a[3] == a[4]).all()  # one draw held for 4 steps
    assert a[:, [INDEX[m] for m in MENU_BUTTONS]].max() == 0


def test_chunk_agent_replans_every_execute_steps_and_masks_menu_buttons():
    calls, resets = [], []

    def predict(frame):
        calls.append(1)
        chunk = np.zeros((6, 21), np.float32)
        chunk[:, INDEX["start"]] = 1.0
        chunk[:, INDEX["south"]] = np.arange(6) % 2
        return chunk

    agent = ChunkAgent(predict, on_reset=resets.append, execute=4)
    agent.reset(7)
    actions = np.stack([agent.act(FRAME) for _ in range(10)])
    assert len(calls) == 3 and resets == [7]  # steps 0, 4, 8
    assert actions[:, INDEX["start"]].max() == 0
    np.testing.assert_array_equal(actions[:4, INDEX["south"]], [0, 1, 0, 1])


def test_a_slower_task_plays_every_kth_chunk_action_for_the_same_span_of_time():
    def predict(frame):
        chunk = np.zeros((16, 21), np.float32)
        chunk[:, INDEX["left_x"]] = np.arange(16) / 16  # the chunk's step index, readable in the action
        return chunk

    assert chunk_stride(30.0, 10.0) == 3 and chunk_stride(30.0, 30.0) == 1 and chunk_stride(None, 10.0) == 1
    agent = ChunkAgent(predict, execute=8, stride=3)
    agent.reset(0)
    played = np.stack([agent.act(FRAME) for _ in range(6)])[:, INDEX["left_x"]] * 16
    # 8 actions at 30 fps span 3 steps at 10 fps: chunk steps 0, 3, 6, then a new chunk
    np.testing.assert_allclose(played, [0, 3, 6, 0, 3, 6])


def test_chunk_agent_rejects_bad_chunks():
    agent = ChunkAgent(lambda frame: np.zeros((3, 5), np.float32))
    with pytest.raises(Exception, match="21"):
        agent.act(FRAME)
    with pytest.raises(EvalError):
        ChunkAgent(lambda frame: frame, execute=0)
    with pytest.raises(EvalError):
        ChunkAgent(lambda frame: frame, stride=0)


def test_policy_labels():
    assert policy_label("random") == "random"
    assert policy_label("tcp://gpu-box:5555") == "tcp-gpu-box-5555"
    assert policy_label("/ckpt/run 3/") == "run-3"
