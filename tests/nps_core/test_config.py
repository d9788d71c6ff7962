import pytest

from nps_core.config import Settings
from nps_core.errors import ConfigError
from nps_core.scale import ScoreScale


def test_embedded_defaults_live_under_home(tmp_path):
    s = Settings(home=tmp_path)
    assert s.data_path == tmp_path / "data"
    assert s.tracking_uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert s.store_url.startswith("sqlite:///") and s.store_url.endswith("data/nps_risk.db")


def test_environment_and_file_override(tmp_path, monkeypatch):
    config = tmp_path / "nps.toml"
    config.write_text('daily_capacity = 12\nmodel_name = "from-file"\n')
    monkeypatch.setenv("NPS_RISK_CONFIG", str(config))
    monkeypatch.setenv("NPS_RISK_MODEL_NAME", "from-env")
    s = Settings(home=tmp_path)
    assert s.daily_capacity == 12
    assert s.model_name == "from-env"  # the environment wins over the file


def test_missing_config_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_RISK_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"absent\.toml"):
        Settings(home=tmp_path)


def test_mlflow_uri_override(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://x/y")
    assert Settings(home=tmp_path).tracking_uri == "postgresql://x/y"


def test_key_digests_are_parsed(tmp_path):
    s = Settings(home=tmp_path, api_keys=" ABC , def,", admin_keys="")
    assert s.key_digests() == frozenset({"abc", "def"})
    assert s.key_digests(admin=True) == frozenset()


def test_inconsistent_scale_is_refused():
    with pytest.raises(ConfigError):
        ScoreScale(low=0, high=10, detractor_max=9, promoter_min=9)


def test_urls_that_may_hold_a_password_stay_out_of_the_settings_repr(tmp_path):
    s = Settings(
        home=tmp_path,
        database_url="postgresql://u:pw-store@h/db",
        mlflow_tracking_uri="postgresql://u:pw-registry@h/mlflow",
    )
    assert "pw-" not in repr(s) and "pw-" not in str(s)
    assert s.store_url.endswith("@h/db") and s.tracking_uri.endswith("@h/mlflow")
