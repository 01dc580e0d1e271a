"""Chinese-first page texts with English alongside; the `lang` cookie or query picks one."""

from __future__ import annotations

from fastapi import Request

LANGUAGES = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "site_title": ("食品快检与质量追溯", "Food quick-test and traceability"),
    "home_lead": (
        "12315 消费维权服务站食品快速检测：定期、定项、定批、定点，结果共享。",
        "Food quick tests at the 12315 consumer-rights stations: fixed schedule, items, batches and points; shared results.",
    ),
    "consumer": ("消费者：扫码查询", "Consumers: scan a code"),
    "consumer_hint": (
        "输入商品条码或样品标签号，查看检测结果",
        "Type a product barcode or sample label id to see test results",
    ),
    "station": ("维权服务站：共享结果", "Stations: shared results"),
    "reviewer": ("审核员：待审结果", "Reviewers: results to review"),
    "tester": ("检测车：今日任务", "Detection vehicle: today's tasks"),
    "admin": ("管理员：计划、点位、项目、仪器", "Administrators: plans, points, items, instruments"),
    "warnings": ("消费警示", "Consumption-safety warnings"),
    "look_up": ("查询", "Look up"),
    "code_placeholder": ("条码或标签号", "Barcode or label id"),
    "product": ("商品", "Product"),
    "brand": ("品牌", "Brand"),
    "batch": ("批号", "Batch"),
    "sampled_at": ("抽样地点", "Sampled at"),
    "collected": ("抽样日期", "Collected"),
    "results": ("检测结果", "Test results"),
    "item": ("检测项目", "Test item"),
    "judgement": ("结论", "Result"),
    "value": ("检测值", "Value"),
    "limit": ("限量", "Limit"),
    "tested": ("检测日期", "Tested"),
    "banned": ("禁用物质，不得检出", "banned: must not be found"),
    "no_results": ("暂无已发布的检测结果", "No published results yet"),
    "error_title": ("无法显示", "Cannot show this"),
    "back_home": ("返回首页", "Back to the home page"),
    "api_docs": ("接口文档", "API documentation"),
    "switch_lang": ("English", "中文"),
    "negative": ("阴性", "Negative"),
    "positive": ("疑似阳性", "Suspected positive"),
    "invalid": ("无效", "Invalid"),
}


def language(request: Request) -> str:
    """The page language: `?lang=` first, then the cookie, then Chinese."""
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return lang if lang in LANGUAGES else "zh"


def texts(lang: str) -> dict[str, str]:
    """Every text in `lang`."""
    index = LANGUAGES.index(lang)
    return {key: pair[index] for key, pair in TEXTS.items()}
