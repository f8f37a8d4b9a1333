"""Batches: inputs (files and folders) turned into jobs with output names, for any runner."""

from faceless.batch.jobs import MEDIA_EXTENSIONS, Job, plan_jobs

__all__ = ["MEDIA_EXTENSIONS", "Job", "plan_jobs"]
