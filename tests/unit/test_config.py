"""node/config.py: typed defaults < onetrip.toml < ONETRIP_<FIELD> < explicit overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from node.config import CONFIG_FILE, NodeConfig, write_config
from node.errors import ConfigError


def problems_of(mapping) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        NodeConfig.from_mapping(mapping)
    return caught.value.problems


def test_from_mapping_with_only_a_data_dir_gives_the_defaults(tmp_path):
    config = NodeConfig.from_mapping({"data_dir": str(tmp_path)})
    assert config == NodeConfig(tmp_path)
    assert config.data_dir == tmp_path
    assert (config.host, config.port, config.log_level) == ("127.0.0.1", 8700, "INFO")


def test_from_mapping_turns_strings_into_the_declared_types(tmp_path):
    config = NodeConfig.from_mapping(
        {"data_dir": str(tmp_path), "port": "8080", "head_interval": "64", "max_clock_drift_s": " 60 "}
    )
    assert config.data_dir == tmp_path
    assert isinstance(config.data_dir, Path)
    assert (config.port, config.head_interval, config.max_clock_drift_s) == (8080, 64, 60)


def test_from_mapping_reports_every_problem_at_once(tmp_path):
    problems = problems_of(
        {
            "data_dir": str(tmp_path),
            "port": "eighty",
            "head_interval": "0",
            "log_level": "LOUD",
            "database": "mysql://db/onetrip",
            "colour": "blue",
        }
    )
    assert len(problems) == 5
    joined = "\n".join(problems)
    for word in ("port", "head_interval", "log_level", "database", "colour"):
        assert word in joined, word


def test_config_error_message_names_every_problem(tmp_path):
    with pytest.raises(ConfigError) as caught:
        NodeConfig.from_mapping({"port": "x", "bogus": 1})
    assert caught.value.code == "bad_config"
    assert len(caught.value.problems) == 3
    assert all(problem in str(caught.value) for problem in caught.value.problems)
    assert str(caught.value).startswith("配置有误")


def test_from_mapping_without_a_data_dir_is_refused():
    assert problems_of({}) == ["缺少数据目录 data_dir"]


def test_an_unknown_field_is_named_in_the_problem(tmp_path):
    assert problems_of({"data_dir": tmp_path, "prot": 80}) == ["未知的配置项 'prot'"]


@pytest.mark.parametrize("raw", ["abc", "", "8.5", True, [80], {"n": 80}])
def test_a_value_that_is_not_an_integer_is_refused_naming_field_and_type(tmp_path, raw):
    problems = problems_of({"data_dir": tmp_path, "port": raw})
    assert len(problems) == 1
    assert "port" in problems[0] and "整数" in problems[0]


def test_a_fractional_number_is_refused_rather_than_truncated(tmp_path):
    # TOML `port = 8700.9` must not silently become 8700.
    problems = problems_of({"data_dir": tmp_path, "port": 8700.9})
    assert len(problems) == 1
    assert "port" in problems[0]


@pytest.mark.parametrize("field", ["port", "head_interval", "head_ttl_s", "max_clock_drift_s"])
@pytest.mark.parametrize("value", [0, -1, "-5"])
def test_counts_and_durations_must_be_positive(tmp_path, field, value):
    assert problems_of({"data_dir": tmp_path, field: value}) == [f"配置项 {field} 必须为正整数"]


def test_port_above_65535_is_refused_and_65535_is_fine(tmp_path):
    assert problems_of({"data_dir": tmp_path, "port": 65536}) == ["端口 port 必须在 1–65535 之间"]
    assert NodeConfig.from_mapping({"data_dir": tmp_path, "port": 65535}).port == 65535


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_the_four_log_levels_are_accepted(tmp_path, level):
    assert NodeConfig.from_mapping({"data_dir": tmp_path, "log_level": level}).log_level == level


@pytest.mark.parametrize("level", ["debug", "TRACE", "CRITICAL", ""])
def test_other_log_levels_are_refused(tmp_path, level):
    assert len(problems_of({"data_dir": tmp_path, "log_level": level})) == 1


@pytest.mark.parametrize(
    "url", ["sqlite:////srv/onetrip/onetrip.db", "postgresql://onetrip@db/onetrip", "postgres://db/onetrip"]
)
def test_sqlite_and_postgresql_database_urls_are_accepted(tmp_path, url):
    config = NodeConfig.from_mapping({"data_dir": tmp_path, "database": url})
    assert config.database_url == url


@pytest.mark.parametrize("url", ["mysql://db/x", "onetrip.db", "sqlite://relative.db", "http://db"])
def test_other_database_urls_are_refused(tmp_path, url):
    assert problems_of({"data_dir": tmp_path, "database": url}) == [
        "数据库地址 database 应以 sqlite:/// 或 postgresql:// 开头"
    ]


def test_default_database_url_is_sqlite_in_the_data_dir(tmp_path):
    config = NodeConfig(tmp_path / "village")
    assert config.database_url == f"sqlite:///{(tmp_path / 'village').resolve() / 'onetrip.db'}"


def test_default_database_url_is_absolute_even_for_a_relative_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = NodeConfig(Path("station")).database_url
    assert url == f"sqlite:///{tmp_path.resolve() / 'station' / 'onetrip.db'}"


def test_load_without_file_environment_or_overrides_gives_the_defaults(tmp_path):
    assert NodeConfig.load(tmp_path, environ={}) == NodeConfig(tmp_path)


def test_load_reads_the_toml_file_in_the_data_dir(tmp_path):
    (tmp_path / CONFIG_FILE).write_text('host = "0.0.0.0"\nport = 9000\nlog_level = "DEBUG"\n', "utf-8")
    config = NodeConfig.load(tmp_path, environ={})
    assert (config.host, config.port, config.log_level) == ("0.0.0.0", 9000, "DEBUG")


def test_environment_overrides_the_file(tmp_path):
    (tmp_path / CONFIG_FILE).write_text('host = "0.0.0.0"\nport = 9000\n', "utf-8")
    config = NodeConfig.load(tmp_path, environ={"ONETRIP_PORT": "9100", "ONETRIP_LOG_LEVEL": "WARNING"})
    assert (config.host, config.port, config.log_level) == ("0.0.0.0", 9100, "WARNING")


def test_explicit_overrides_win_over_environment_and_file(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("port = 9000\nhead_interval = 10\n", "utf-8")
    config = NodeConfig.load(
        tmp_path,
        overrides={"port": 9200, "host": None},
        environ={"ONETRIP_PORT": "9100", "ONETRIP_HOST": "10.0.0.1", "ONETRIP_HEAD_INTERVAL": "20"},
    )
    assert config.port == 9200
    assert config.host == "10.0.0.1"  # an override of None leaves the lower layers' value
    assert config.head_interval == 20


def test_load_ignores_environment_variables_of_other_programs_and_unknown_onetrip_ones(tmp_path):
    config = NodeConfig.load(tmp_path, environ={"PORT": "1", "ONETRIP_COLOUR": "blue", "onetrip_port": "2"})
    assert config == NodeConfig(tmp_path)


def test_the_data_dir_comes_from_the_argument_not_from_file_or_environment(tmp_path):
    (tmp_path / CONFIG_FILE).write_text('data_dir = "/elsewhere"\n', "utf-8")
    config = NodeConfig.load(tmp_path, environ={"ONETRIP_DATA_DIR": "/somewhere-else"})
    assert config.data_dir == tmp_path


def test_load_reports_every_problem_of_every_layer_at_once(tmp_path):
    (tmp_path / CONFIG_FILE).write_text('log_level = "LOUD"\nunknown = 1\n', "utf-8")
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(tmp_path, overrides={"head_interval": -1}, environ={"ONETRIP_PORT": "eighty"})
    assert len(caught.value.problems) == 4


def test_load_refuses_a_file_that_is_not_toml_naming_it(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("port = = 1\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(tmp_path, environ={})
    assert len(caught.value.problems) == 1
    assert CONFIG_FILE in caught.value.problems[0] and "TOML" in caught.value.problems[0]


def test_load_refuses_a_toml_array_where_a_number_belongs_with_config_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("port = [8700]\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(tmp_path, environ={})
    assert len(caught.value.problems) == 1
    assert "port" in caught.value.problems[0]


def test_load_uses_the_process_environment_when_none_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("ONETRIP_PORT", "9300")
    assert NodeConfig.load(tmp_path).port == 9300


def test_environment_database_url_is_used_as_given(tmp_path):
    config = NodeConfig.load(tmp_path, environ={"ONETRIP_DATABASE": "postgresql://hub@db/onetrip"})
    assert config.database_url == "postgresql://hub@db/onetrip"


def test_written_config_loads_back_to_the_same_values(tmp_path):
    values = {"host": 'a "quoted" \\ host', "port": 8800, "log_level": "ERROR", "database": "sqlite:////tmp/x.db"}
    write_config(tmp_path, values)
    config = NodeConfig.load(tmp_path, environ={})
    assert {k: getattr(config, k) for k in values} == values


def test_every_field_can_be_set_from_the_environment(tmp_path):
    samples = {"str": "postgresql://h/d", "int": "7"}
    environ = {}
    for field in dataclasses.fields(NodeConfig):
        if field.name != "data_dir":
            value = {"log_level": "ERROR", "scheduler": "off"}.get(field.name) or samples[field.type]
            environ[f"ONETRIP_{field.name.upper()}"] = value
    config = NodeConfig.load(tmp_path, environ=environ)
    for field in dataclasses.fields(NodeConfig):
        if field.name != "data_dir":
            assert str(getattr(config, field.name)) == environ[f"ONETRIP_{field.name.upper()}"]


def test_the_scheduler_switch_reads_on_or_off_only(tmp_path):
    assert NodeConfig.load(tmp_path, environ={"ONETRIP_SCHEDULER": "off"}).scheduler == "off"
    with pytest.raises(ConfigError) as refused:
        NodeConfig.load(tmp_path, environ={"ONETRIP_SCHEDULER": "no", "ONETRIP_RETENTION_DAYS": "0"})
    assert "scheduler" in str(refused.value) and "retention_days" in str(refused.value)
