"""What every entry point assembles once and passes down: config, database, Slack client."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import HitlConfig
from bot.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    config: HitlConfig
    engine: Engine
    sessions: sessionmaker[Session]
    client: WebClient
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    # Set by ingestion so the deliverer in the same process posts at once instead of at its
    # next poll; other processes are reached through the database.
    wake_delivery: threading.Event = field(default_factory=threading.Event)
