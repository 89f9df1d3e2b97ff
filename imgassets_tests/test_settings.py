import pytest

from imgassets.core.settings import SettingsError, load_settings


def test_defaults_point_at_the_local_stack() -> None:
    settings = load_settings(_env_file=None)
    assert settings.detector_confidence == 0.5 and settings.detector_nms == 0.4
    assert settings.detector_input_size == 416


@pytest.mark.parametrize(
    "variable, value",
    [
        ("IMGASSETS_DETECTOR_CONFIDENCE", "1.5"),
        ("IMGASSETS_KAFKA_BOOTSTRAP_SERVERS", "no-port"),
        ("IMGASSETS_PARTITIONS_START", "yesterday"),
        ("IMGASSETS_S3_BUCKET", "Bad_Bucket"),
        ("IMGASSETS_KAFKA_SECURITY_PROTOCOL", "SASL_MAGIC"),
        ("IMGASSETS_DETECTOR_INPUT_SIZE", "417"),
        ("IMGASSETS_TRACKS_INTERVAL_SECONDS", "0"),
        # 0 could mean "keep nothing" or "keep forever": refused (-1 keeps every run).
        ("IMGASSETS_RUN_RETENTION_DAYS", "0"),
    ],
)
def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_sasl_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGASSETS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match="IMGASSETS_KAFKA_SASL_USERNAME"):
        load_settings()


def test_missing_s3_credentials_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMGASSETS_S3_SECRET_ACCESS_KEY")
    with pytest.raises(SettingsError, match="IMGASSETS_S3_SECRET_ACCESS_KEY"):
        load_settings().require_s3_credentials()


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGASSETS_KAFKA_SASL_PASSWORD", "hunter2-very-secret")
    settings = load_settings()
    assert "hunter2-very-secret" not in repr(settings)
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() not in repr(settings)
