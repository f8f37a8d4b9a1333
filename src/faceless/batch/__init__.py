"""Batches: inputs (files and folders) turned into jobs with output names, for any runner,
and the ledger that lets a folder run resume."""

from faceless.batch.jobs import MEDIA_EXTENSIONS, Job, plan_jobs
from faceless.batch.ledger import Ledger, LedgerError, ledger_path, output_folder

__all__ = ["MEDIA_EXTENSIONS", "Job", "Ledger", "LedgerError", "ledger_path", "output_folder",
           "plan_jobs"]
