"""Table models and API schemas of the LIMS (table and schema classes are separate)."""

from lims.models.audit import AuditChain, AuditEvent
from lims.models.cases import CaseFile, FileContent, PositiveCase, PublicWarning, WarningCounter
from lims.models.instruments import CalibrationRecord, MaintenanceRecord, ReadingImport
from lims.models.leads import ConsumerLead
from lims.models.notifications import NotificationMark
from lims.models.plans import PlanSuggestion, PlanTask, PlanVersion
from lims.models.qc import BlindSample, ControlRun
from lims.models.reference import (
    District,
    FoodCategory,
    Instrument,
    KitLot,
    Limit,
    SamplingPoint,
    Station,
    TestItem,
)
from lims.models.registry import Product, TrademarkRecord
from lims.models.results import HeldReading, Review, TestResult
from lims.models.samples import LabelCounter, Sample, SampleVersion
from lims.models.sharing import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from lims.models.stock import KitStock, StockAlert, StockMovement
from lims.models.sync import (
    NodeIdentity,
    SyncApplied,
    SyncCursor,
    SyncOutbox,
    SyncRowMap,
    Vehicle,
    VehicleChain,
)
from lims.models.users import User, UserSession

__all__ = [
    "AuditChain",
    "AuditEvent",
    "BlindSample",
    "CalibrationRecord",
    "CaseFile",
    "ConsumerLead",
    "ControlRun",
    "District",
    "FileContent",
    "FoodCategory",
    "HeldReading",
    "Instrument",
    "KitLot",
    "KitStock",
    "LabelCounter",
    "Limit",
    "MaintenanceRecord",
    "NodeIdentity",
    "NotificationMark",
    "PlanSuggestion",
    "PlanTask",
    "PlanVersion",
    "PositiveCase",
    "Product",
    "PublicWarning",
    "ReadingImport",
    "Review",
    "Sample",
    "SampleVersion",
    "SamplingPoint",
    "Station",
    "StockAlert",
    "StockMovement",
    "SyncApplied",
    "SyncCursor",
    "SyncOutbox",
    "SyncRowMap",
    "TestItem",
    "TestResult",
    "TrademarkRecord",
    "User",
    "UserSession",
    "Vehicle",
    "VehicleChain",
    "WarningCounter",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
]
