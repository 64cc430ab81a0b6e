"""Optuna storages shared by searches and evaluations: opening them, locks, workers, heartbeats."""

from __future__ import annotations

from .._util import lazy_exports

_EXPORTS = {
    "mask_password": "_urls",
    "scrub_secrets": "_urls",
    "pg_lock_key": "_keys",
    "BULK_DIALECTS": "_bulk",
    "BULK_SCHEMAS": "_bulk",
    "record_trials": "_bulk",
    "META_KEY": "_open",
    "LOCK_DIR": "_open",
    "close_storage": "_open",
    "lock_file": "_open",
    "OpenedStorage": "_open",
    "error_line": "_open",
    "open_storage": "_open",
    "quiet_optuna": "_open",
    "EVALUATE_KIND": "_evaluate",
    "EvaluateWork": "_evaluate",
    "HEARTBEAT_KEY": "_workers",
    "Heartbeat": "_workers",
    "StaleWatch": "_workers",
    "StudyLock": "_workers",
    "StudyMutex": "_workers",
    "SharedStudy": "_workers",
    "set_metric_names": "_workers",
    "default_evaluate_study": "_evaluate",
    "evaluate_worker": "_evaluate",
    "fail_trials": "_workers",
    "heartbeat_interval": "_workers",
    "poll_interval": "_workers",
    "pop_waiting": "_workers",
    "study_lock": "_workers",
    "tell": "_workers",
    "trials_in": "_workers",
    "worker_name": "_workers",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
