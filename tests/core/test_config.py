from mnist_tui.core.config import MODELS, PRESETS, ConfigError, TrainConfig, checked, preset, validate


def test_defaults_and_presets_are_valid():
    assert validate(TrainConfig()) == {}
    for name, config in PRESETS.items():
        assert validate(config) == {}, name


def test_messages_name_the_field_the_limit_and_the_value():
    errors = validate(TrainConfig(lr=-1, epochs=0, model="resnet", hidden=(128, 0)))
    assert errors["lr"] == "lr must be > 0 and <= 10, got -1"
    assert errors["epochs"] == "epochs must be between 1 and 1000, got 0"
    assert errors["model"] == f"model must be one of {', '.join(MODELS)}, got 'resnet'"
    assert "hidden" in errors


def test_wrong_types_are_reported_not_raised():
    errors = validate(TrainConfig(batch_size=1.5, lr="fast"))  # type: ignore[arg-type]
    assert errors["batch_size"] == "batch_size must be a whole number, got 1.5"
    assert errors["lr"] == "lr must be a number, got 'fast'"


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
