"""import_models_from against a real Xinference: the bake lists its running models, writes one
predefined model per model with the type Xinference describes, and the plugin serves them over
stdio with only the provider's credentials, as Dify lists them without anyone adding a model."""

import os
import subprocess
import sys

import pytest
import yaml

from real.conftest import stdio_plugin

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real

TEMPLATE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOLDER = {"llm": "llm", "text-embedding": "text_embedding", "rerank": "rerank"}


def test_a_bake_imports_the_models_a_real_xinference_runs(xinference, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"cookiecutters_dir": str(tmp_path / "cc"), "replay_dir": str(tmp_path / "r")}))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env |= {"MODEL_SERVER_API_KEY": xinference.api_key, "NO_PROXY": "127.0.0.1,localhost"}
    command = [sys.executable, "-m", "cookiecutter", TEMPLATE, "--no-input", "--output-dir", str(tmp_path / "out")]
    command += ["--config-file", str(config), f"import_models_from={xinference.url}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert xinference.api_key not in done.stdout + done.stderr
    plugin_dir = tmp_path / "out" / "xinference"
    assert xinference.api_key not in "".join(
        p.read_text(errors="replace") for p in plugin_dir.rglob("*") if p.is_file()
    )
    for model_type, uid in xinference.models.items():
        declared = [
            yaml.safe_load(path.read_text(encoding="utf-8"))
            for path in (plugin_dir / "models" / FOLDER[model_type]).glob("*.yaml")
            if path.name != "_position.yaml"
        ]
        assert [(d["model"], d["model_type"]) for d in declared] == [(uid, model_type)], declared

    plugin = stdio_plugin(plugin_dir)
    try:
        provider = {"server_url": xinference.url, "api_key": xinference.api_key}
        for model_type, uid in xinference.models.items():
            results, error = plugin.call("get_ai_model_schemas", model_type=model_type, model=uid, credentials=provider)
            assert error is None, error
            assert results[0]["model_schema"]["fetch_from"] == "predefined-model"
        results, error = plugin.call(
            "invoke_text_embedding",
            model_type="text-embedding",
            model=xinference.models["text-embedding"],
            credentials=provider,
            texts=["The river rose in the night."],
            input_type="document",
        )
        assert error is None, error
        assert len(results[0]["embeddings"]) == 1 and len(results[0]["embeddings"][0]) > 100
    finally:
        plugin.stop()
