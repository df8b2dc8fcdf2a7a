import pytest

from app.config import DEV_SECRET, ConfigError, Settings, parse_cluster_url

DEVELOPMENT = {"ENV": "development"}


def test_no_environment_means_production_rules_and_refuses_without_secrets():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({})
    assert Settings.from_env({k: v for k, v in PRODUCTION.items() if k != "ENV"}).is_production


def test_development_defaults_work_out_of_the_box():
    settings = Settings.from_env(DEVELOPMENT)
    assert settings.env == "development"
    assert settings.hold_ttl_seconds == 300
    assert settings.max_seats_per_hold == 8
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_values_come_from_the_environment_with_types():
    settings = Settings.from_env(
        {**DEVELOPMENT, "HOLD_TTL_SECONDS": "120", "MAX_SEATS_PER_HOLD": "4", "DB_POOL_TIMEOUT_SECONDS": "0.5"}
    )
    assert settings.hold_ttl_seconds == 120 and settings.max_seats_per_hold == 4
    assert settings.db_pool_timeout_seconds == 0.5


@pytest.mark.parametrize(
    "env",
    [
        {"HOLD_TTL_SECONDS": "soon"},
        {"HOLD_TTL_SECONDS": "0"},
        {"ENV": "staging"},
        # A replica checked no more often than its bound would be proven fresh only for an instant.
        {"REPLICA_LAG_CHECK_SECONDS": "1", "REPLICA_MAX_LAG_SECONDS": "1"},
        {"REPLICA_LAG_CHECK_SECONDS": "0"},
    ],
)
def test_bad_values_fail_fast(env):
    with pytest.raises(ConfigError):
        Settings.from_env({**DEVELOPMENT, **env})


@pytest.mark.parametrize("secret", [None, DEV_SECRET, "short"])
def test_production_refuses_to_start_without_a_real_secret(secret):
    env = {"ENV": "production"}
    if secret:
        env["SECRET_KEY"] = secret
    with pytest.raises(ConfigError):
        Settings.from_env(env)


PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "x" * 40,
    "GATEWAY_API_KEY": "sk_live_abc",
    "WEBHOOK_SECRET": "whsec_live",
    "TICKET_KEYS_SECRET": "t" * 40,
}


def test_production_starts_with_its_secrets():
    assert Settings.from_env(PRODUCTION).is_production


@pytest.mark.parametrize("missing", ["GATEWAY_API_KEY", "WEBHOOK_SECRET", "TICKET_KEYS_SECRET"])
def test_production_needs_the_gateway_secrets(missing):
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env({k: v for k, v in PRODUCTION.items() if k != missing})


def test_the_per_fan_seat_cap_reads_its_new_name_and_still_its_old_one():
    assert Settings.from_env(DEVELOPMENT).max_held_seats_per_user_show == 8
    assert Settings.from_env({**DEVELOPMENT, "MAX_HELD_SEATS_PER_USER_SHOW": "6"}).max_held_seats_per_user_show == 6
    assert Settings.from_env({**DEVELOPMENT, "MAX_SEATS_PER_USER_SHOW": "4"}).max_held_seats_per_user_show == 4
    both = {**DEVELOPMENT, "MAX_SEATS_PER_USER_SHOW": "4", "MAX_HELD_SEATS_PER_USER_SHOW": "6"}
    assert Settings.from_env(both).max_held_seats_per_user_show == 4
    with pytest.raises(ConfigError):
        Settings.from_env({**DEVELOPMENT, "MAX_SEATS_PER_USER_SHOW": "0"})


def test_each_redis_role_defaults_to_redis_url_and_only_the_queues_refuse_a_cluster():
    plain = Settings(env="test", redis_url="redis://127.0.0.1:6379/3", redis_cache_url="redis://10.0.0.9:6379/0")
    assert [plain.redis_url_for(r) for r in ("room", "limits", "cache", "queues")] == [
        "redis://127.0.0.1:6379/3",
        "redis://127.0.0.1:6379/3",
        "redis://10.0.0.9:6379/0",
        "redis://127.0.0.1:6379/3",
    ]
    cluster = "redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001"
    assert parse_cluster_url(cluster) == ([("10.0.0.1", 7000), ("10.0.0.2", 7001)], "u", "p@ss")
    Settings(env="test", redis_room_url=cluster, redis_limits_url=cluster, redis_cache_url=cluster).validate()
    with pytest.raises(ConfigError, match="plain Redis"):
        Settings(env="test", redis_queue_url=cluster).validate()
    with pytest.raises(ConfigError, match="REDIS_QUEUE_URL"):
        Settings(env="test", redis_url=cluster).validate()
    with pytest.raises(ConfigError, match="host:port"):
        Settings(env="test", redis_room_url="redis+cluster://10.0.0.1").validate()
