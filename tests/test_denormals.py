import pytest
import torch

from world_models.denormals import flushed_denormals, flushing_denormals


@pytest.fixture
def flushing_supported():
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals (torch.set_flush_denormal answers False)")


def test_the_block_flushes_and_restores_what_was_set_before(flushing_supported):
    assert not flushing_denormals()
    assert torch.tensor([1e-39]).mul(1.0).item() > 0  # a denormal survives arithmetic outside
    with flushed_denormals():
        assert flushing_denormals() and torch.tensor([1e-39]).mul(1.0).item() == 0.0
    assert not flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        with flushed_denormals():
            pass
        assert flushing_denormals()  # a caller's own setting is kept
    finally:
        torch.set_flush_denormal(False)


def test_the_setting_is_restored_when_the_block_raises(flushing_supported):
    with pytest.raises(RuntimeError), flushed_denormals():
        raise RuntimeError("inside")
    assert not flushing_denormals()
