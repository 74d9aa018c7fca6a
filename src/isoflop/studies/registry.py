"""The study kinds, by name: adding one is a plan module, a report module and a line here."""

from __future__ import annotations

from . import isoflops, scarcity
from .base import StudyKind

STUDIES: dict[str, StudyKind] = {study.kind: study for study in (scarcity.STUDY, isoflops.STUDY)}
