"""Every setting declared once, validated once; flat and nested forms load into the same object."""

import inspect

import pytest

import isoflop.config.parts as parts
from isoflop import IsoflopsConfig, ScarcityConfig, UsageError, build_config
from isoflop.config.base import Part
from isoflop.config.compose import flat_fields
from isoflop.config.studies import StudyConfig
from isoflop.config.engines import ENGINES


def all_parts():
    import isoflop.config.studies as studies
    import isoflop.config.engines as registry

    classes = set()
    for module in (parts, studies, registry):
        classes |= {c for _, c in inspect.getmembers(module, inspect.isclass) if issubclass(c, Part)}
    return classes


def test_learning_rate_is_declared_in_exactly_one_place():
    declaring = [c.__name__ for c in all_parts() if "learning_rate" in c.__dict__.get("__annotations__", {})]
    assert declaring == ["OptimizerConfig"]


def test_no_setting_is_declared_twice_across_parts_and_studies():
    for study in (ScarcityConfig, IsoflopsConfig):
        names = [name for part in study.model_fields.values()
                 if isinstance(part.annotation, type) and issubclass(part.annotation, Part)
                 for name in part.annotation.model_fields]
        assert len(names) == len(set(names)), study
        own = [n for n, f in study.model_fields.items() if not (isinstance(f.annotation, type) and issubclass(f.annotation, Part))]
        assert not set(own) & set(names), study


def test_flat_and_nested_settings_build_the_same_config():
    flat = build_config(overrides={"learning_rate": 2e-4, "seq_len": 32})
    nested = build_config(overrides={"optimizer": {"learning_rate": 2e-4}, "data": {"seq_len": 32}})
    assert flat == nested and flat.optimizer.learning_rate == 2e-4 and flat.data.seq_len == 32


def test_study_defaults_sit_below_every_override():
    config = build_config(overrides={"seq_len": 64}, kind="isoflops")
    assert config.data.chunking == "packed" and config.data.seq_len == 64
    assert config.optimizer.schedule == "cosine" and config.tokenizer.tokenizer == "bytes"
    assert IsoflopsConfig().optimizer.learning_rate == 3e-3
    assert IsoflopsConfig().output == "isoflop-runs/isoflops" and ScarcityConfig().output == "isoflop-runs/scarcity"


def test_identity_leaves_out_the_grid_and_what_cannot_change_numbers():
    identity = build_config(overrides={"seeds": (1, 2), "output": "x", "save_models": True, "pack_size": 3}).identity()
    for name in ("seeds", "unique_samples", "output", "save_models", "pack_size", "executor"):
        assert name not in identity
    assert identity["study"] == "scarcity" and identity["weight_decay"] == 0.0 and identity["engine"] == "auto"


def test_duplicate_seeds_are_one_seed():
    assert build_config(overrides={"seeds": (1, 1)}, kind="isoflops").seeds == (1,)


@pytest.mark.parametrize("seeds", [(-1,), (99999999999,)])
def test_seeds_out_of_range_are_refused(seeds):
    with pytest.raises(UsageError, match="seeds must lie between 0 and"):
        build_config(overrides={"seeds": seeds})


@pytest.mark.parametrize(
    ("rates", "message"),
    [({"25k": -5.0}, "positive finite"), ({"25M": 1e-3}, "not a ladder size"), ({"25k": float("inf")}, "finite")],
)
def test_size_learning_rates_are_validated(rates, message):
    with pytest.raises(UsageError, match=message):
        build_config(overrides={"size_learning_rates": rates}, kind="isoflops")


def test_size_learning_rate_replaces_the_peak_rate_for_its_size():
    config = build_config(overrides={"size_learning_rates": {"25k": 1e-2}}, kind="isoflops")
    assert config.learning_rate_of("25k") == 1e-2 and config.learning_rate_of("12k") == 3e-3


def test_the_isoflop_default_uses_the_validated_rate_of_each_size_and_none_clears_them():
    config = build_config(kind="isoflops")
    assert [config.learning_rate_of(size) for size in ("0.4k", "6k", "100k")] == [6e-2, 1e-2, 3e-3]
    assert set(config.model_sizes) <= set(config.size_learning_rates)
    assert build_config(kind="isoflops", preset="vocab").learning_rate_of("6k") == 3e-3  # one rate across tokenizers


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0.0, -1.0])
def test_learning_rate_must_be_positive_and_finite(value):
    with pytest.raises(UsageError, match="learning_rate"):
        build_config(overrides={"learning_rate": value})


def test_unknown_engine_and_setting_are_named():
    with pytest.raises(UsageError, match="unknown engine 'turbo'"):
        build_config(overrides={"engine": "turbo"})
    with pytest.raises(UsageError, match="learning_rat: unknown setting"):
        build_config(overrides={"learning_rat": 1.0})


def test_every_registered_engine_option_is_a_setting():
    for engine in ENGINES:
        for name in engine.options.model_fields:
            assert name in flat_fields(ScarcityConfig)


def test_unknown_preset_and_unknown_setting_in_a_file(tmp_path):
    with pytest.raises(UsageError, match="unknown preset"):
        build_config(preset="nope")
    config_file = tmp_path / "study.yaml"
    config_file.write_text("learning_rat: 0.1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="learning_rat: unknown setting"):
        build_config(config_file=config_file)


def test_config_file_then_cli_overrides(tmp_path):
    toml = tmp_path / "study.toml"
    toml.write_text('preset = "classic"\nseeds = [3, 4]\nlearning_rate = 2e-4\n[evaluation]\neval_samples = 5\n', encoding="utf-8")
    config = build_config(config_file=toml, overrides={"learning_rate": 3e-4})
    assert config.model == "distilgpt2" and config.seeds == (3, 4) and config.optimizer.learning_rate == 3e-4
    assert config.evaluation.eval_samples == 5


def test_classic_preset_is_the_exact_protocol():
    config = build_config(preset="classic")
    assert (config.model, config.data.train_data) == ("distilgpt2", "hub:wikitext:wikitext-2-v1")
    assert (config.data.seq_len, config.budget_passes, config.optimizer.batch_size, config.optimizer.learning_rate,
            config.evaluation.eval_samples) == (64, 100, 1, 1e-4, 10)
    assert config.unique_samples == (1, 2, 5, 10, 20, 50, 100)
    assert (config.optimizer.schedule, config.optimizer.warmup_fraction, config.evaluation.evals_per_run) == ("linear", 0.0, None)


def test_evaluation_steps_are_spread_and_end_at_the_last_step():
    from isoflop.config.parts import EvaluationConfig

    assert EvaluationConfig().eval_steps(4) == (1, 2, 3, 4)
    assert EvaluationConfig(evals_per_run=3).eval_steps(10) == (3, 6, 9, 10)


def test_study_configs_are_registered_by_kind():
    from isoflop.config.studies import STUDIES

    assert {k: v.kind for k, v in STUDIES.items()} == {"scarcity": "scarcity", "isoflops": "isoflops"}
    assert all(issubclass(c, StudyConfig) for c in STUDIES.values())


def test_the_renamed_chunking_rule_keeps_its_old_name_in_files_flags_and_run_keys(capsys, tmp_path):
    from conftest import run_cli

    renamed, old = build_config(overrides={"chunking": "per-row"}), build_config(overrides={"chunking": "seed"})
    assert renamed == old and old.data.chunking == "per-row"
    assert renamed.identity()["chunking"] == "seed"  # folders written before the rename keep their run keys
    code, out, _ = run_cli(capsys, "scarcity", "--chunking", "seed", "--dry-run", "--output", str(tmp_path / "s"))
    assert code == 0 and "21 run(s) planned" in out


def test_each_preset_has_its_own_default_folder_so_presets_run_in_order_never_meet():
    from isoflop.config.presets import PRESETS

    folders = {(kind, preset): build_config(preset, kind=kind).output for kind in PRESETS for preset in PRESETS[kind]}
    assert folders[("scarcity", "offline")] == build_config(kind="scarcity").output == "isoflop-runs/scarcity"
    assert folders[("isoflops", "wsd")] == "isoflop-runs/isoflops-wsd"
    assert len(set(folders.values())) == len(folders)
    assert build_config("wsd", overrides={"output": "mine"}, kind="isoflops").output == "mine"
