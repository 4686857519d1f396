import argparse

import pytest

from mnist_tui.commands.common import add_config_flags, config_from_args
from mnist_tui.core.config import (
    FIELD_SPECS, MODELS, PRESETS, ConfigError, TrainConfig, checked, data_errors, field_applies, field_flag,
    format_field, parse_field, preset, validate,
)


def test_defaults_and_presets_are_valid():
    assert validate(TrainConfig()) == {}
    for name, config in PRESETS.items():
        assert validate(config) == {}, name


def test_messages_name_the_field_the_limit_and_the_value():
    errors = validate(TrainConfig(lr=-1, epochs=0, model="resnet", hidden=(128, 0)))
    assert errors["lr"] == "learning rate must be > 0 and <= 10, got -1"  # the form's label, not the field name
    assert errors["epochs"] == "epochs must be between 1 and 1000, got 0"
    assert errors["model"] == f"model must be one of {', '.join(MODELS)}, got 'resnet'"
    assert "hidden" in errors


def test_wrong_types_are_reported_not_raised():
    errors = validate(TrainConfig(batch_size=1.5, lr="fast"))  # type: ignore[arg-type]
    assert errors["batch_size"] == "batch size must be a whole number, got 1.5"
    assert errors["lr"] == "learning rate must be a number, got 'fast'"


def test_checked_raises_with_every_message():
    try:
        checked(TrainConfig(lr=0, dropout=2))
    except ConfigError as exc:
        assert set(exc.errors) == {"lr", "dropout"}
    else:
        raise AssertionError("an invalid config passed")


def test_json_round_trip_keeps_every_field():
    config = preset("best", hidden=(256, 32), seed=7)
    assert TrainConfig.from_json(config.to_json()) == config


def test_unknown_keys_from_other_versions_are_ignored():
    data = TrainConfig().to_dict() | {"from_the_future": 1}
    assert TrainConfig.from_dict(data) == TrainConfig()


def test_preset_overrides_field_by_field():
    config = preset("fast", epochs=3)
    assert config.epochs == 3 and config.model == PRESETS["fast"].model
    assert PRESETS["seed-mlp"].model == "mlp" and PRESETS["seed-mlp"].hidden == (128, 64)
    try:
        preset("nope")
    except ConfigError as exc:
        assert "preset must be one of" in str(exc)
    else:
        raise AssertionError


def test_every_field_has_one_spec_and_the_cli_flags_come_from_it():
    """One source: each field's label, help and flag come from its FieldSpec; --flag VALUE round-trips."""
    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    config = preset("best", hidden=(256, 32), nesterov=True, batchnorm=False, seed=7, lr=0.002)
    argv = ["--preset", "seed-mlp"]
    for name in FIELD_SPECS:
        value = getattr(config, name)
        if isinstance(value, bool):
            argv.append(field_flag(name) if value else "--no-" + field_flag(name)[2:])
        else:
            argv += [field_flag(name), format_field(name, value)]
    assert config_from_args(parser.parse_args(argv)) == config
    assert all(spec.label and spec.help for spec in FIELD_SPECS.values())


@pytest.mark.parametrize(("name", "text", "value"), [
    ("hidden", "256, 32", (256, 32)), ("nesterov", "on", True), ("batchnorm", "off", False), ("lr", "1e-3", 1e-3),
    ("epochs", "3", 3), ("model", " mlp ", "mlp"),
])
def test_one_parser_for_the_form_and_the_cli(name, text, value):
    assert parse_field(name, text) == value


@pytest.mark.parametrize(("name", "text", "message"), [
    ("epochs", "1.5", "epochs must be a whole number, got '1.5'"),
    ("lr", "x", "learning rate must be a number, got 'x'"),
    ("hidden", "1,a", "hidden (mlp) must be layer sizes like 128,64, got '1,a'"),
])
def test_parse_errors_use_the_label(name, text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        parse_field(name, text)


def test_fields_that_do_not_apply_to_a_model():
    mlp, cnn = PRESETS["seed-mlp"], PRESETS["fast"]
    assert not field_applies("width", mlp) and field_applies("width", cnn)
    assert field_applies("hidden", mlp) and not field_applies("hidden", cnn)
    assert not field_applies("nesterov", cnn) and field_applies("beta2", cnn)
    assert field_applies("lr", mlp) and field_applies("lr", cnn)


def test_more_clean_epochs_than_epochs_is_refused():
    augmented = preset("best", epochs=2)
    assert validate(augmented.replace(clean_epochs=2)) == {}
    assert validate(augmented.replace(clean_epochs=3)) == {
        "clean_epochs": "clean epochs must be at most the 2 epochs (every epoch would be trained without "
                        "augmentation), got 3"}
    assert validate(preset("fast", clean_epochs=3)) == {}  # no augmentation: the field means nothing
    assert validate(preset("best", epochs=1, clean_epochs=5))["clean_epochs"].startswith(
        "clean epochs must be at most the 1 epoch (")  # not "the 1 epochs"


def test_a_batch_larger_than_the_training_set_is_refused():
    config = TrainConfig(batch_size=1000, val_size=100)
    assert data_errors(config, 2000) == {}
    assert data_errors(config, 1000) == {"batch_size": "batch size must be at most the 900 digits left to train on "
                                                       "(training set minus val size), got 1,000"}
    assert "val_size" in data_errors(TrainConfig(val_size=5000), 5000)


@pytest.mark.parametrize(("typed", "shown"), [("0", "0"), ("64,0", "64,0"), ("128, 9000", "128,9000"), ("", "nothing")])
def test_bad_layer_sizes_are_shown_as_typed_not_as_a_tuple(tmp_path, capsys, typed, shown):
    from mnist_tui.cli import main

    assert main(["train", "--hidden", typed, "--data-dir", str(tmp_path), "--checkpoints", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("mnist-tui: hidden (--hidden, mlp) must be 1 or more layer sizes between "
                                       f"1 and 8192, got {shown}\n")


@pytest.mark.parametrize("name,text", [("epochs", "1_0"), ("epochs", "١"), ("lr", "1_0"), ("lr", "٠.١"),
                                       ("hidden", "128,,64"), ("hidden", "128,64,"), ("hidden", "１２８"),
                                       ("hidden", "128 64"), ("hidden", "12 8")])
def test_typos_python_would_read_as_numbers_are_refused(name, text):
    """int("1_0") is 10 and int("١") is 1: the form and the CLI took them silently. Spaces inside a size were
    deleted: "128 64" (two layers meant) read as one of 12864, "12 8" as 128."""
    with pytest.raises(ValueError, match="must be"):
        parse_field(name, text)


def test_plain_numbers_and_layer_lists_still_parse():
    assert parse_field("epochs", " 10 ") == 10 and parse_field("lr", "3e-3") == 3e-3
    assert parse_field("hidden", "128, 64") == (128, 64) and parse_field("hidden", "") == ()
