"""A web process does its one-off work at start, not in its first requests."""

from config.query_params import documented_query_params


def test_the_wsgi_module_builds_the_query_parameter_allow_list_at_start():
    documented_query_params.cache_clear()
    import importlib

    import config.wsgi

    importlib.reload(config.wsgi)  # as gunicorn imports it in a new worker
    assert documented_query_params.cache_info().currsize == 1
    misses = documented_query_params.cache_info().misses
    documented_query_params()  # what the first export's request calls
    assert documented_query_params.cache_info().misses == misses
