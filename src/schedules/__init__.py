"""Monthly sampling plans (定期定项定批定点) turned into dated tasks; pure functions over plain data."""

from schedules.carryover import carry_over, next_working_day, progress
from schedules.errors import CalendarError, PlanError, Problem
from schedules.generate import generate, plan_month, quotas, replan, vehicle_days
from schedules.loader import example_plan_path, load_example, load_plan, parse_plan
from schedules.model import Area, BatchBasis, DateRange, Family, Item, Plan, Point, Rule, Vehicle, Weekday
from schedules.tasks import Done, DoneWork, Overdue, ProgressRow, Reason, Schedule, Shortfall, Task, UrgentTask
from schedules.urgent import urgent_task
from schedules.workdays import (
    Month,
    adjusted_workdays,
    is_adjusted_workday,
    is_statutory_holiday,
    is_working_day,
    statutory_holidays,
    supported_years,
    use_holiday_file,
    working_days,
)

__all__ = [
    "Area",
    "BatchBasis",
    "CalendarError",
    "DateRange",
    "Done",
    "DoneWork",
    "Family",
    "Item",
    "Month",
    "Overdue",
    "Plan",
    "PlanError",
    "Point",
    "Problem",
    "ProgressRow",
    "Reason",
    "Rule",
    "Schedule",
    "Shortfall",
    "Task",
    "UrgentTask",
    "Vehicle",
    "Weekday",
    "adjusted_workdays",
    "carry_over",
    "example_plan_path",
    "generate",
    "is_adjusted_workday",
    "is_statutory_holiday",
    "is_working_day",
    "load_example",
    "load_plan",
    "next_working_day",
    "parse_plan",
    "plan_month",
    "progress",
    "quotas",
    "replan",
    "statutory_holidays",
    "supported_years",
    "urgent_task",
    "use_holiday_file",
    "vehicle_days",
    "working_days",
]
