"""The Stable-Baselines3 side of bench/peers.py: one run, one JSON line on stdout.

    /work/sb3venv/bin/python bench/peers_sb3.py TASK SEED BUDGET

Runs in a separate virtual environment with torch, stable-baselines3 and
gymnasium (never this project's dependency, never in CI; see bench/peers.py).
Settings are rl-baselines3-zoo's for each task. Time is measured the way
bench/peers.py measures ours: from just before ``learn`` (model and
environments built, imports done) to the moment the criterion is met or
the budget ends; process CPU time (`time.process_time`) beside wall time.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO, TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.noise import NormalActionNoise

torch.set_num_threads(1)


def linear(initial: float):
    return lambda progress_remaining: progress_remaining * initial


def build(task: str, seed: int):
    """The zoo's entry for `task` (rl-baselines3-zoo hyperparams/*.yml)."""
    if task == 'ppo_cartpole':
        env = make_vec_env('CartPole-v1', n_envs=8, seed=seed)
        return PPO('MlpPolicy', env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                   ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed, device='cpu')
    if task == 'a2c_cartpole':
        env = make_vec_env('CartPole-v1', n_envs=8, seed=seed)
        return A2C('MlpPolicy', env, ent_coef=0.0, seed=seed, device='cpu')
    if task == 'dqn_cartpole':
        env = make_vec_env('CartPole-v1', n_envs=1, seed=seed)
        return DQN('MlpPolicy', env, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000,
                   gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
                   exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
                   seed=seed, device='cpu')
    if task == 'td3_pendulum':
        env = make_vec_env('Pendulum-v1', n_envs=1, seed=seed)
        # noise_std 0.1 of the [-1, 1]-scaled action, as the zoo builds NormalActionNoise
        noise = NormalActionNoise(mean=np.zeros(1), sigma=0.1 * np.ones(1))
        return TD3('MlpPolicy', env, gamma=0.98, buffer_size=200_000, learning_starts=10_000, action_noise=noise,
                   gradient_steps=-1, train_freq=(1, 'episode'), learning_rate=1e-3,
                   policy_kwargs=dict(net_arch=[400, 300]), seed=seed, device='cpu')
    if task == 'ppo_pendulum':
        env = make_vec_env('Pendulum-v1', n_envs=4, seed=seed)
        return PPO('MlpPolicy', env, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                   learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4, seed=seed, device='cpu')
    raise SystemExit(f'unknown task {task!r}')


class Criterion(BaseCallback):
    """Collects finished training episodes' returns; stops at last-10 mean >= `threshold`."""

    def __init__(self, threshold: float | None, start: tuple[float, float]):
        super().__init__()
        self.threshold, self.start = threshold, start
        self.returns: list[float] = []
        self.solved_at: dict | None = None

    def _on_step(self) -> bool:
        for info in self.locals['infos']:
            if 'episode' in info:
                self.returns.append(float(info['episode']['r']))
        if (self.threshold is not None and len(self.returns) >= 10
                and np.mean(self.returns[-10:]) >= self.threshold):
            self.solved_at = dict(steps=int(self.num_timesteps), cpu=time.process_time() - self.start[0],
                                  wall=time.perf_counter() - self.start[1])
            return False
        return True


def evaluate(model, env_id: str, episodes: int = 10) -> float:
    import gymnasium as gym
    env, returns = gym.make(env_id), []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    task, seed, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = build(task, seed)
    cartpole = task.endswith('cartpole')
    start = (time.process_time(), time.perf_counter())
    callback = Criterion(475.0 if cartpole else None, start)
    model.learn(total_timesteps=budget, callback=callback)
    cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
    row = dict(side='sb3', task=task, seed=seed, steps=int(model.num_timesteps), cpu=cpu, wall=wall,
               last10=float(np.mean(callback.returns[-10:])) if callback.returns else None)
    if cartpole:
        row['solved'] = callback.solved_at is not None
        if callback.solved_at:
            row.update(callback.solved_at)
    else:
        row['evaluation'] = evaluate(model, 'Pendulum-v1')
    print(json.dumps(row))


if __name__ == '__main__':
    main()
