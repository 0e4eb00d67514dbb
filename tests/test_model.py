"""Loading checkpoints: what is accepted, what is refused, and with which one-line message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from w2vbackend.errors import ModelError, UsageError
from w2vbackend.model import DEFAULT_MODEL, load_model, parse_dtype

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def copy_checkpoint(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def assert_one_line(error: Exception, *words: str) -> None:
    message = str(error)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_loads_xlsr_checkpoint(checkpoints):
    loaded = load_model(str(checkpoints["xlsr"]), device="cpu")
    assert loaded.model.training is False
    assert (loaded.geometry.stride, loaded.geometry.receptive_field) == (320, 400)
    assert loaded.geometry.sample_rate == 16000
    assert loaded.num_hidden_layers == 4 and loaded.hidden_size == 32
    assert loaded.do_normalize is True
    assert loaded.stable_layer_norm is True and loaded.feat_extract_norm == "layer"
    assert loaded.dtype == torch.float32 and loaded.device == torch.device("cpu")
    assert loaded.commit_hash is None  # a local folder has no hub commit
    assert loaded.name == str(checkpoints["xlsr"]) and loaded.revision is None


def test_loads_each_family(checkpoints):
    kinds = {}
    for name in ("base", "hubert", "wavlm"):
        loaded = load_model(str(checkpoints[name]), device="cpu")
        kinds[name] = (type(loaded.model).__name__, loaded.feat_extract_norm, loaded.do_normalize)
    assert kinds == {"base": ("Wav2Vec2Model", "group", True),
                     "hubert": ("HubertModel", "group", False),
                     "wavlm": ("WavLMModel", "group", False)}


@pytest.mark.parametrize(("name", "dtype"), [("bfloat16", torch.bfloat16),
                                             ("float16", torch.float16)])
def test_dtype_option(checkpoints, name, dtype):
    loaded = load_model(str(checkpoints["base"]), device="cpu", dtype=name)
    assert loaded.dtype == dtype
    assert {p.dtype for p in loaded.model.parameters()} == {dtype}


def test_unknown_dtype_is_a_usage_error():
    with pytest.raises(UsageError):
        parse_dtype("float64")
    assert parse_dtype(" Float16 ") == torch.float16


def test_default_model_name():
    assert DEFAULT_MODEL == "facebook/wav2vec2-large-xlsr-53"


def test_not_cached_and_offline_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as info:
        load_model("w2v-tests-nobody/no-such-model", device="cpu")
    assert_one_line(info.value, "w2v-tests-nobody/no-such-model", "not in the local",
                    "HF_HOME", "HF_HUB_OFFLINE", "local model folder")
    assert info.value.code == "modelLoadFailed"


def test_missing_local_folder(tmp_path):
    with pytest.raises(ModelError) as info:
        load_model(str(tmp_path / "nowhere"), device="cpu")
    assert_one_line(info.value, "nowhere", "no such model folder")


def test_feature_extractor_without_sampling_rate(checkpoints, tmp_path):
    folder = copy_checkpoint(checkpoints["xlsr"], tmp_path / "nosr")
    path = folder / "preprocessor_config.json"
    settings = json.loads(path.read_text())
    settings["sampling_rate"] = None
    path.write_text(json.dumps(settings))
    with pytest.raises(ModelError) as info:
        load_model(str(folder), device="cpu")
    assert_one_line(info.value, "sampling_rate", str(folder))


def test_missing_preprocessor_config(checkpoints, tmp_path):
    folder = copy_checkpoint(checkpoints["xlsr"], tmp_path / "nofe")
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ModelError) as info:
        load_model(str(folder), device="cpu")
    assert_one_line(info.value, "preprocessor_config.json")


def test_non_wav2vec2_config_is_refused(tmp_path):
    from transformers import BertConfig

    folder = tmp_path / "bert"
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=64).save_pretrained(folder)
    with pytest.raises(ModelError) as info:
        load_model(str(folder), device="cpu")
    assert_one_line(info.value, "not a wav2vec2-like", "conv_kernel")


def test_remote_code_is_never_run(checkpoints, tmp_path):
    folder = copy_checkpoint(checkpoints["xlsr"], tmp_path / "remote")
    marker = tmp_path / "code-ran"
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "w2v-custom"
    config["auto_map"] = {"AutoConfig": "custom.Config", "AutoModel": "custom.Model"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import Wav2Vec2Config as Config, Wav2Vec2Model as Model\n")
    with pytest.raises(ModelError) as info:
        load_model(str(folder), device="cpu")
    assert_one_line(info.value, "trust_remote_code")
    assert not marker.exists()


def test_bin_weights_load_safely(checkpoints, tmp_path):
    from safetensors.torch import load_file

    folder = copy_checkpoint(checkpoints["base"], tmp_path / "bin")
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    loaded = load_model(str(folder), device="cpu")
    reference = load_model(str(checkpoints["base"]), device="cpu")
    for (name, ours), (_, theirs) in zip(loaded.model.state_dict().items(),
                                         reference.model.state_dict().items()):
        assert torch.equal(ours, theirs), name


class _Payload:
    """Unpickling this runs a shell command: what a malicious .bin file would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_in_bin_weights_is_refused(checkpoints, tmp_path):
    from safetensors.torch import load_file

    folder = copy_checkpoint(checkpoints["base"], tmp_path / "evil")
    state = dict(load_file(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "payload-ran"
    state["payload"] = _Payload(str(marker))
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ModelError) as info:
        load_model(str(folder), device="cpu")
    assert_one_line(info.value, "weights")
    assert not marker.exists()


def test_hub_cache_gives_commit_hash_offline(checkpoints, tmp_path):
    """A hub id served from the local cache (offline) records the snapshot's commit."""
    repo = tmp_path / "hf" / "hub" / "models--w2vtest--tiny"
    shutil.copytree(checkpoints["xlsr"], repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    code = ("from w2vbackend.model import load_model\n"
            "m = load_model('w2vtest/tiny', device='cpu')\n"
            "print(m.commit_hash, m.num_hidden_layers)\n"
            "try:\n    load_model('w2vtest/tiny', revision='v9', device='cpu')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    env.pop("HF_HUB_CACHE", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, check=False,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == f"{COMMIT} 4"
    assert lines[1].startswith("ModelError") and "revision v9" in lines[1]
    assert "HF_HOME" in lines[1]
