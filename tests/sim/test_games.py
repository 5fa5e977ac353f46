"""The three profiled Debian games and a pygame program: same actions => same frames, and inputs
change what is drawn. Each game starts three times (~15-60 s per game on a busy machine)."""

import subprocess
import textwrap

import numpy as np
import pytest
from sim_helpers import run_digest

from pixelpad.actions import null_action
from pixelpad.sim import GameEnv
from pixelpad.sim.record import random_actions

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sim-games")]
STEPS = 12


def _determinism_and_inputs(env) -> None:
    actions = random_actions(STEPS, seed=5)
    first, frames, infos = run_digest(env, actions, seed=0)
    second, _, _ = run_digest(env, actions, seed=0)
    noop, _, _ = run_digest(env, np.repeat(null_action()[None], STEPS, axis=0), seed=0)
    assert first == second, "two fresh runs with the same actions drew different frames"
    assert first != noop, "random inputs drew the same frames as no input"
    assert infos[-1]["frames_presented"] >= STEPS // 2
    assert frames[-1].std() > 5  # the game drew something


@pytest.mark.parametrize("game", ["supertux", "chromium-bsu", "neverball"])
def test_profiled_game_replays_bit_for_bit(game):
    env = GameEnv(game)
    try:
        _determinism_and_inputs(env)
    finally:
        env.close()


PYGAME_PROGRAM = textwrap.dedent(
    """
    import random, time
    import pygame
    pygame.init()
    screen = pygame.display.set_mode((160, 120))
    random.seed(int(time.time()))
    clock = pygame.time.Clock()
    x, y = 80, 60
    while True:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                raise SystemExit
        keys = pygame.key.get_pressed()
        x += 3 * (keys[pygame.K_RIGHT] - keys[pygame.K_LEFT])
        y += 3 * (keys[pygame.K_DOWN] - keys[pygame.K_UP])
        screen.fill((pygame.time.get_ticks() // 8 % 256, random.randrange(64), 90))
        pygame.draw.circle(screen, (255, 220, 0), (x, y), 8)
        pygame.display.flip()
        clock.tick(60)
    """
)


def test_pygame_program_replays_bit_for_bit(tmp_path):
    script = tmp_path / "game.py"
    script.write_text(PYGAME_PROGRAM)
    python = "/usr/bin/python3"  # Debian's python3-pygame, on the system interpreter
    subprocess.run([python, "-c", "import pygame"], check=True, capture_output=True)
    env = GameEnv(cmd=[python, str(script)], size=(160, 120))
    try:
        _determinism_and_inputs(env)
    finally:
        env.close()
