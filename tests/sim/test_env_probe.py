"""GameEnv on a tiny SDL2 game compiled in the tests (programs/sdl_probe.c), which draws its frame
counter, timer ticks, controller buttons, held keys and ``rand()`` as numbers on screen."""

import os

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from sim_helpers import (
    FRAMES,
    KEYS,
    MOUSE_BUTTONS,
    MOUSE_X,
    PAD,
    PROBE_SIZE,
    RAND,
    TIMER,
    probe_number,
    run_digest,
)

from pixelpad.actions import from_dict, null_action
from pixelpad.sim import GameEnv, ScreenCheck, command_profile
from pixelpad.sim.record import random_actions

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sim-probe")]


@pytest.fixture
def probe_env(probe_game):
    env = GameEnv(cmd=probe_game, size=PROBE_SIZE)
    yield env
    env.close()


def test_same_seed_and_actions_give_identical_frames(probe_game):
    actions = random_actions(25, seed=1)
    digests = []
    for _ in range(2):
        env = GameEnv(cmd=probe_game, size=PROBE_SIZE)
        try:
            digest, frames, infos = run_digest(env, actions, seed=4)
        finally:
            env.close()
        digests.append(digest)
    assert digests[0] == digests[1]
    assert probe_number(frames[-1], FRAMES) == infos[-1]["frames_presented"]
    assert infos[-1]["virtual_time"] == pytest.approx(infos[-1]["step"] / 30)


def test_inputs_matter_and_keys_arrive(probe_env):
    noop, _, _ = run_digest(probe_env, np.repeat(null_action()[None], 10, axis=0))
    rand, _, _ = run_digest(probe_env, random_actions(10, seed=2))
    assert noop != rand
    probe_env.reset()
    obs, *_ = probe_env.step(from_dict({"dpad_left": 1, "south": 1}))
    obs, *_ = probe_env.step(from_dict({"dpad_left": 1, "south": 1}))
    assert probe_number(obs, KEYS) == (1 << 2) | (1 << 4)  # left arrow, space
    obs, *_ = probe_env.step(null_action())
    obs, *_ = probe_env.step(null_action())
    assert probe_number(obs, KEYS) == 0


def test_gamepad_reaches_sdl_through_the_virtual_controller(probe_game):
    profile = command_profile(probe_game, size=PROBE_SIZE)
    pad_only = type(profile)(**{**profile.__dict__, "input": "pad"})
    env = GameEnv(pad_only)
    try:
        _, info = env.reset()
        assert info["pad_attached"]
        for _ in range(3):
            obs, *_ = env.step(from_dict({"south": 1, "dpad_up": 1, "left_shoulder": 1}))
        assert probe_number(obs, PAD) == (1 << 0) | (1 << 11) | (1 << 9)  # SDL A, DPAD_UP, LEFTSHOULDER
        assert probe_number(obs, KEYS) == 0  # pad only: no keys
        before = obs
        for _ in range(3):
            obs, *_ = env.step(from_dict({"left_x": 1.0}))
        assert probe_number(obs, PAD) == 0
        assert not np.array_equal(before[60:], obs[60:])  # the stick moved the square
    finally:
        env.close()


def test_exact_mode_fires_timers_at_the_virtual_rate(probe_game):
    steps = 30
    counts = {}
    for exact in (False, True):
        env = GameEnv(cmd=probe_game, size=PROBE_SIZE, exact=exact)
        try:
            obs, info = env.reset()
            start_ticks, start_time = probe_number(obs, TIMER), info["virtual_time"]
            for _ in range(steps):
                obs, *_, info = env.step(null_action())
            counts[exact] = (probe_number(obs, TIMER) - start_ticks, info["virtual_time"] - start_time)
        finally:
            env.close()
    ticks, elapsed = counts[True]
    assert abs(ticks - elapsed / 0.007) <= 1.5  # a 7 ms timer: ~4.8 ticks per 33 ms frame
    ticks, _ = counts[False]
    assert ticks <= steps + 1  # without exact mode a sleeping timer wakes at most once per step


def test_seed_reaches_the_game_time_is_fixed(probe_env):
    obs_a, _ = probe_env.reset(seed=1)
    obs_b, _ = probe_env.reset(seed=2)
    # rand() is seeded from time(NULL), which starts at the same virtual instant on every reset
    assert probe_number(obs_a, RAND) == probe_number(obs_b, RAND)


def test_check_env_passes(probe_env):
    check_env(probe_env, skip_render_check=True)


def test_killed_game_ends_the_episode_and_cleans_up(probe_env):
    probe_env.reset()
    probe_env.step(null_action())
    os.kill(probe_env._session.process.pid, 9)
    obs, _, terminated, truncated, info = probe_env.step(null_action())
    assert terminated and not truncated
    assert "exited" in info["error"]
    obs2, _, terminated2, _, _ = probe_env.step(null_action())
    assert terminated2 and np.array_equal(obs, obs2)
    obs, _ = probe_env.reset()  # a reset starts it again
    assert probe_number(obs, FRAMES) >= 1


def test_vector_env_of_two_games(probe_game):
    import gymnasium as gym

    envs = gym.vector.AsyncVectorEnv([lambda: GameEnv(cmd=probe_game, size=PROBE_SIZE)] * 2)
    try:
        obs, _ = envs.reset(seed=[3, 3])
        assert obs.shape == (2, PROBE_SIZE[1], PROBE_SIZE[0], 3)
        for _ in range(3):
            obs, *_ = envs.step(np.stack([null_action(), from_dict({"dpad_right": 1})]))
        assert probe_number(obs[0], KEYS) == 0 and probe_number(obs[1], KEYS) == 1 << 3
    finally:
        envs.close()


def test_mouse_from_a_stick_and_a_button_binding(probe_game):
    base = command_profile(probe_game, size=PROBE_SIZE)
    profile = type(base)(
        **{**base.__dict__, "keys": {"south": "Button1"}, "mouse_stick": "right", "mouse_speed": 8}
    )
    env = GameEnv(profile)
    try:
        obs, _ = env.reset()
        x0 = probe_number(obs, MOUSE_X)
        for _ in range(3):
            obs, *_ = env.step(from_dict({"right_x": 1.0, "south": 1}))
        obs, *_ = env.step(from_dict({"south": 1}))
        assert probe_number(obs, MOUSE_X) == x0 + 24
        assert probe_number(obs, MOUSE_BUTTONS) == 1  # left button held
    finally:
        env.close()


def test_screen_check_ends_the_episode(probe_game):
    base = command_profile(probe_game, size=PROBE_SIZE)
    # the yellow square starts centred at x=80 and moves 2 px per frame with the right arrow
    done = (ScreenCheck(box=(94, 78, 2, 2), color=(250, 200, 0), tolerance=8),)
    env = GameEnv(type(base)(**{**base.__dict__, "done": done}))
    try:
        env.reset()
        ends = []
        for _ in range(8):
            *_, terminated, _, info = env.step(from_dict({"dpad_right": 1}))
            ends.append(terminated)
        assert ends.index(True) >= 3 and info.get("done_check") == 0
    finally:
        env.close()
