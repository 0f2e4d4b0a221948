import json

import pytest
import torch

from vaefail_core import cache
from vaefail_core.nets import EnsembleMLP


def test_member_independent_of_ensemble_size():
    big = EnsembleMLP(3, 2, 4, seeds=[5, 6, 7])
    small = EnsembleMLP(1, 2, 4, seeds=[6])
    x = torch.randn(1, 10, 2)
    assert torch.allclose(big(x.expand(3, -1, -1))[1], small(x)[0])


def test_load_member_roundtrip_and_shape_error():
    a = EnsembleMLP(2, 1, 2, seeds=[0, 1])
    b = EnsembleMLP(1, 1, 2, seeds=[9])
    a.load_member(1, b.member_state(0))
    x = torch.randn(1, 5, 1)
    assert torch.allclose(a(x.expand(2, -1, -1))[1], b(x)[0])
    with pytest.raises(ValueError, match="expected input"):
        a(torch.randn(3, 5, 1))


def test_cached_json_recomputes_on_change_and_corruption(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "RESULTS_DIR", tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"v": len(calls)}

    assert cache.cached_json("quick", "x", {"a": 1}, compute) == {"v": 1}
    assert cache.cached_json("quick", "x", {"a": 1}, compute) == {"v": 1}  # cached
    assert cache.cached_json("quick", "x", {"a": 2}, compute) == {"v": 2}  # config changed
    (tmp_path / "quick" / "x.json").write_text("{not json")
    assert cache.cached_json("quick", "x", {"a": 2}, compute) == {"v": 3}  # corrupt -> recompute
    assert json.loads((tmp_path / "quick" / "x.json").read_text())["result"] == {"v": 3}
    assert not list((tmp_path / "quick").glob("*.tmp"))
