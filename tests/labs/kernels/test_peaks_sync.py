"""The measured matmul peak waits for the GPU: a fake asynchronous device and a fake clock show
that timing the launch alone would report an absurd figure."""

from __future__ import annotations

import types

import pytest
import torch

from portal.labs.kernels.engine import peaks

LAUNCH_S = 5e-6  # what enqueueing a kernel costs the host
KERNEL_S = 10e-3  # what the matmul really takes on the device


class FakeGpu:
    """A clock and a stream: a matmul returns after the launch; its work ends at a synchronize."""

    def __init__(self) -> None:
        self.now = 100.0
        self.queued_s = 0.0
        self.syncs = 0

    def perf_counter(self) -> float:
        return self.now

    def launch(self) -> None:
        self.now += LAUNCH_S
        self.queued_s += KERNEL_S

    def synchronize(self, device: object = None) -> None:
        self.now += self.queued_s
        self.queued_s = 0.0
        self.syncs += 1


class FakeTensor:
    def __init__(self, gpu: FakeGpu) -> None:
        self.gpu = gpu

    def __matmul__(self, other: FakeTensor) -> FakeTensor:
        self.gpu.launch()
        return FakeTensor(self.gpu)


@pytest.fixture
def fake_gpu(monkeypatch) -> FakeGpu:
    gpu = FakeGpu()
    fake_torch = types.SimpleNamespace(
        randn=lambda *shape, device=None: FakeTensor(gpu),
        cuda=types.SimpleNamespace(synchronize=gpu.synchronize),
    )
    monkeypatch.setattr(peaks, "torch", fake_torch)
    monkeypatch.setattr(peaks, "time", types.SimpleNamespace(perf_counter=gpu.perf_counter))
    return gpu


def test_the_matmul_peak_counts_the_kernel_not_just_its_launch(fake_gpu):
    n = 1024
    true_tflops = 2 * n**3 / KERNEL_S / 1e12  # 0.21 TFLOP/s on this fake device

    measured = peaks._measure_matmul_tflops(torch.device("cuda", 0), n=n)

    assert measured == pytest.approx(2 * n**3 / (KERNEL_S + LAUNCH_S) / 1e12)
    assert measured == pytest.approx(true_tflops, rel=1e-3)
    assert fake_gpu.syncs >= 4  # after the warm-up and after each timed product

    # What the unsynchronised loop read off the same device: the launch time alone.
    a = b = FakeTensor(fake_gpu)
    t0 = fake_gpu.perf_counter()
    a @ b
    unsynchronised = 2 * n**3 / (fake_gpu.perf_counter() - t0) / 1e12
    assert unsynchronised > 1000 * true_tflops  # ~430 TFLOP/s from a 0.2 TFLOP/s device


def test_a_cpu_matmul_is_timed_without_cuda_calls(monkeypatch):
    def no_cuda(*_: object) -> None:
        raise AssertionError("a CPU measurement must not touch CUDA")

    monkeypatch.setattr(torch.cuda, "synchronize", no_cuda)
    assert peaks._measure_matmul_tflops(torch.device("cpu"), n=64) > 0
