"""The search page at ``/``, driven in a real browser against the real server and index.

Debian's headless Chromium (``/usr/bin/chromium``) is driven by Playwright over the
``server`` fixture (uvicorn on loopback, real index of real documents). The browser
tests skip only when that Chromium is missing; ``scripts/install.sh --dev`` installs it.
Screenshots go to ``bench/out/screenshots/`` (not committed) for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from indexer.build import build_index
from indexer.embed import Embedder
from indexer.settings import Settings
from tests.conftest import CORPUS, LiveServer, require_corpus

pytestmark = pytest.mark.integration  # real model, index, server or browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "static"
SHOTS = ROOT / "bench" / "out" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
QUERY = "成果转化 措施"
XSS = "<script>window.__xss=1</script><b>粗体</b>"
XSS_IMG = '<img src="x" onerror="window.__xss=2">'

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM} "
    "(apt-get install chromium, or run scripts/install.sh --dev as root)",
)


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _open_page(browser: Browser, **context_options: object) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", **context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A laptop-sized tab; fails the test on any uncaught script error."""
    yield from _open_page(browser, viewport=LAPTOP)


@pytest.fixture()
def phone(browser: Browser) -> Iterator[Page]:
    yield from _open_page(
        browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )


@pytest.fixture(scope="module")
def xss_server(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[LiveServer]:
    """A second index: a real speech into which a paragraph of markup has been inserted."""
    require_corpus()
    speech = (CORPUS / "scraped-speech" / "000_8759e18efef570e4.txt").read_text(encoding="utf-8")
    lines = speech.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("四是成果转化步伐加快"))
    lines.insert(at + 1, f"关于成果转化的补充说明：{XSS}{XSS_IMG}本段用于检验页面转义。")
    corpus = tmp_path_factory.mktemp("xss-corpus")
    (corpus / "speech.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path_factory.mktemp("xss-index"))
    build_index([corpus], settings, embedder=embedder)
    with LiveServer(settings, embedder) as s:
        yield s


# ------------------------------------------------------------------ helpers


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def wait_ready(page: Page) -> None:
    """Wait until the page has finished rendering the view its URL describes."""
    expect(page.locator("#main")).to_have_attribute("data-state", "ready")


def search(page: Page, url: str, q: str = QUERY) -> None:
    page.goto(url + "/")
    wait_ready(page)
    box = page.get_by_label("检索词")
    box.fill(q)
    box.press("Enter")
    wait_ready(page)
    expect(page.locator(".hit").first).to_be_visible()


def ranks(page: Page) -> list[int]:
    return [
        int(r) for r in page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.rank)")
    ]


def passage_ids(page: Page) -> list[str]:
    return page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.passageId)")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


# ------------------------------------------------------- serving (no browser)


def test_root_serves_the_page_and_api_stays_json(http: httpx.Client) -> None:
    for path in ("/", f"/?q={QUERY}&mode=keyword&page=2", "/?doc=x&p=y"):
        r = http.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert '<html lang="zh-CN">' in r.text
        assert "/static/app.js" in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        r = http.get(asset)
        assert r.status_code == 200 and kind in r.headers["content-type"], asset
    assert http.get("/static/nope.js").status_code == 404
    assert http.get("/health").json()["status"] == "ready"
    r = http.get("/search", params={"q": "成果转化", "k": 1})
    assert r.headers["content-type"].startswith("application/json") and r.json()["hits"]
    assert "/" not in http.get("/openapi.json").json()["paths"]


def test_page_loads_nothing_from_outside() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert all(u.strip("'\"").startswith("data:") for u in re.findall(r"url\(([^)]*)\)", css))
    assert "@import" not in css
    assert not re.findall(r"""fetch\(\s*[`'"](?:https?:)?//""", js)
    assert ".innerHTML" in js and js.count(".innerHTML") == 1, "only `highlighted` is parsed"


# -------------------------------------------------------------- the browser


@needs_chromium
def test_search_shows_highlighted_ranked_passages(
    page: Page, server: LiveServer, http: httpx.Client
) -> None:
    page.goto(server.url + "/")
    wait_ready(page)
    stats = http.get("/stats").json()
    status = page.locator("#status")
    expect(status).to_contain_text(f"索引版本 {stats['version']}")
    model = stats["model"].get("name") or stats["model"]["model"]
    expect(status).to_contain_text(f"模型 {model}")
    expect(status).to_contain_text(f"{stats['passages']:,} 个段落")
    expect(page.locator("#landing")).to_be_visible()

    search(page, server.url)
    api = http.get("/search", params={"q": QUERY, "k": 10}).json()
    assert query_of(page)["q"] == [QUERY] and query_of(page)["mode"] == ["hybrid"]
    assert page.title().startswith(QUERY)
    assert passage_ids(page) == [h["passage_id"] for h in api["hits"]]
    assert ranks(page) == list(range(1, 11))
    marks = page.locator(".hit .passage mark")
    assert marks.count() > 0
    assert {"成果转化", "措施"} & set(marks.all_inner_texts())
    expect(page.locator("#summary")).to_contain_text(re.compile(r"用时 [\d,]+ 毫秒"))
    expect(page.locator("#summary")).to_contain_text(f"共 {api['total']:,} 条")
    assert api["feedback_terms"], "hybrid mode names the words it also searched for"
    expect(page.locator("#related")).to_have_text(
        "同时检索：" + "、".join(api["feedback_terms"][:6])
    )

    top, first = api["hits"][0], page.locator(".hit").first
    expect(first.locator(".hit-title")).to_have_text(top["document"]["title"])
    expect(first.locator(".passage")).to_have_text(top["text"])
    expect(first.locator(".score")).to_contain_text(f"{top['score']:.2f}")
    if top["section"]:
        expect(first.locator(".crumbs li")).to_have_text(top["section"].split(" > "))
    if top["document"]["region"]:
        expect(first.locator(".meta-region .value")).to_have_text(top["document"]["region"])
    dup_counts = [len(h["duplicates"]) for h in api["hits"]]
    expect(page.locator(".dupes summary")).to_have_text(
        [f"另有{n}处相同段落" for n in dup_counts if n]
    )
    shot(page, "results-laptop.png")


@needs_chromium
def test_province_filter_keeps_only_that_province(page: Page, server: LiveServer) -> None:
    search(page, server.url, "科技创新")
    expect(page.locator("html")).to_have_attribute("data-facets", "loaded")
    region = page.get_by_label("地区")
    assert {"浙江省", "湖北省", "江西省"} <= set(
        region.locator("option").evaluate_all("os => os.map(o => o.value)")
    )
    region.select_option("浙江省")
    wait_ready(page)
    assert query_of(page)["region"] == ["浙江省"]
    regions = page.locator(".hit .meta-region .value").all_inner_texts()
    assert regions and set(regions) == {"浙江省"}
    assert page.locator(".hit").count() == len(regions)

    region.select_option("湖北省")
    wait_ready(page)
    assert set(page.locator(".hit .meta-region .value").all_inner_texts()) == {"湖北省"}
    page.go_back()  # back to 浙江省, restored from the URL
    wait_ready(page)
    expect(region).to_have_value("浙江省")
    assert set(page.locator(".hit .meta-region .value").all_inner_texts()) == {"浙江省"}


@needs_chromium
def test_url_restores_state_and_mode_switch_works_by_keyboard(
    page: Page, server: LiveServer
) -> None:
    page.goto(f"{server.url}/?q=成果转化&mode=keyword&region=江西省")
    wait_ready(page)
    expect(page.get_by_label("检索词")).to_have_value("成果转化")
    expect(page.get_by_label("关键词")).to_be_checked()
    expect(page.get_by_label("地区")).to_have_value("江西省")
    assert set(page.locator(".hit .meta-region .value").all_inner_texts()) == {"江西省"}

    page.get_by_label("关键词").focus()
    page.keyboard.press("ArrowLeft")  # radio group: keyword -> dense
    wait_ready(page)
    assert query_of(page)["mode"] == ["dense"]
    expect(page.get_by_label("语义")).to_be_checked()
    expect(page.locator("#mode-hint")).to_contain_text("语义")
    page.go_back()
    wait_ready(page)
    expect(page.get_by_label("关键词")).to_be_checked()
    page.go_forward()
    wait_ready(page)
    expect(page.get_by_label("语义")).to_be_checked()

    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(page.get_by_label("检索词")).to_be_focused()


@needs_chromium
def test_expand_context_in_place(page: Page, server: LiveServer, http: httpx.Client) -> None:
    search(page, server.url)
    card = page.locator(".hit").first
    pid = card.get_attribute("data-passage-id")
    toggle = card.locator("button.btn-context")
    expect(toggle).to_have_text("展开上下文")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("收起上下文")
    detail = http.get(f"/passages/{pid}", params={"context": 2}).json()
    assert detail["before"] or detail["after"]
    expect(card.locator(".context-before .context-passage p")).to_have_text(
        [p["text"] for p in detail["before"]]
    )
    expect(card.locator(".context-after .context-passage p")).to_have_text(
        [p["text"] for p in detail["after"]]
    )
    expect(card.locator(".passage mark").first).to_be_visible()  # the hit stays highlighted
    shot(page, "context-laptop.png")
    toggle.click()
    expect(card.locator(".context-after")).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")


@needs_chromium
def test_document_view_marks_and_scrolls_to_the_passage(
    page: Page, server: LiveServer, http: httpx.Client
) -> None:
    api = http.get("/search", params={"q": QUERY, "k": 10}).json()
    # the hit deepest in its document, so that showing it needs scrolling
    n, hit = max(enumerate(api["hits"]), key=lambda ih: ih[1]["ordinal"])
    assert hit["ordinal"] >= 3
    search(page, server.url)
    page.locator(".hit").nth(n).get_by_role("link", name="在全文中查看").click()
    wait_ready(page)
    assert query_of(page)["doc"] == [hit["document"]["doc_id"]]
    assert query_of(page)["p"] == [hit["passage_id"]]

    doc = http.get(f"/documents/{hit['document']['doc_id']}").json()
    expect(page.locator("#doc-title")).to_have_text(doc["document"]["title"])
    expect(page.locator(".doc-passage")).to_have_count(len(doc["passages"]))
    target = page.locator(".doc-passage.is-target")
    expect(target).to_have_count(1)
    expect(target).to_have_attribute("data-passage-id", hit["passage_id"])
    expect(target).to_contain_text(hit["text"])
    expect(target).to_contain_text("检索命中段落")
    expect(target).to_be_in_viewport()
    expect(target).to_be_focused()
    assert page.evaluate("window.scrollY") > 0
    shot(page, "document-laptop.png")

    page.go_back()
    wait_ready(page)
    assert "doc" not in query_of(page)
    assert len(passage_ids(page)) == 10 and passage_ids(page)[n] == hit["passage_id"]
    expect(page.get_by_label("检索词")).to_have_value(QUERY)


@needs_chromium
def test_paging_continues_the_ranks(page: Page, server: LiveServer, http: httpx.Client) -> None:
    search(page, server.url)
    first = passage_ids(page)
    page.get_by_role("navigation", name="分页").get_by_role("link", name="下一页").click()
    wait_ready(page)
    assert query_of(page)["page"] == ["2"]
    assert ranks(page) == list(range(11, 21))
    second = passage_ids(page)
    api = http.get("/search", params={"q": QUERY, "k": 10, "offset": 10}).json()
    assert second == [h["passage_id"] for h in api["hits"]]
    assert not set(first) & set(second)
    expect(page.locator("#summary")).to_contain_text("第 11–20 条")
    expect(page.locator(".pager-status")).to_contain_text("第 2 /")
    page.go_back()
    wait_ready(page)
    assert ranks(page) == list(range(1, 11)) and passage_ids(page) == first


@needs_chromium
def test_empty_result_suggests_removing_filters(
    page: Page, server: LiveServer, http: httpx.Client
) -> None:
    params = {"q": "成果转化", "region": "浙江省", "year_to": "2025"}
    assert http.get("/search", params=params).json()["hits"] == []  # 2026 reports only
    page.goto(f"{server.url}/?q=成果转化&mode=hybrid&region=浙江省&year_to=2025")
    wait_ready(page)
    empty = page.locator("#empty")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("没有找到匹配的段落")
    expect(page.locator(".hit")).to_have_count(0)
    empty.get_by_role("button", name="清除筛选").click()
    wait_ready(page)
    expect(page.locator(".hit").first).to_be_visible()
    assert "region" not in query_of(page) and "year_to" not in query_of(page)
    expect(page.get_by_label("地区")).to_have_value("")


@needs_chromium
def test_service_error_shows_the_apis_detail(
    page: Page, server: LiveServer, http: httpx.Client
) -> None:
    q = "成果转化" * 200
    detail = http.get("/search", params={"q": q}).json()["detail"]
    page.goto(f"{server.url}/?q={q}")
    wait_ready(page)
    error = page.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_contain_text("检索失败")
    expect(error).to_contain_text(detail)
    expect(error).to_contain_text("HTTP 422")
    expect(page.locator(".hit")).to_have_count(0)

    page.goto(f"{server.url}/?doc=no-such-document")
    wait_ready(page)
    expect(page.get_by_role("alert")).to_contain_text("无法打开文档")
    expect(page.get_by_role("alert")).to_contain_text("HTTP 404")


@needs_chromium
def test_phone_width_fits_without_horizontal_scrolling(phone: Page, server: LiveServer) -> None:
    search(phone, server.url)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide at {PHONE['width']}px"
    expect(phone.locator(".hit .passage mark").first).to_be_visible()
    shot(phone, "results-phone.png")
    phone.locator(".hit").first.get_by_role("button", name="展开上下文").click()
    expect(phone.locator(".hit").first.locator(".context-after")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.locator(".hit").first.get_by_role("link", name="在全文中查看").click()
    wait_ready(phone)
    expect(phone.locator(".doc-passage.is-target")).to_be_in_viewport()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "document-phone.png")


@needs_chromium
def test_markup_in_a_passage_is_shown_as_text(page: Page, xss_server: LiveServer) -> None:
    page.goto(f"{xss_server.url}/?q=粗体&mode=keyword")
    wait_ready(page)
    card = page.locator(".hit").first
    expect(card.locator(".passage")).to_contain_text(XSS)
    expect(card.locator(".passage")).to_contain_text(XSS_IMG)
    expect(card.locator(".passage mark").first).to_be_visible()  # highlighting still works
    assert page.locator("#main b, #main script, #main img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"

    card.get_by_role("link", name="在全文中查看").click()
    wait_ready(page)
    expect(page.locator(".doc-passage.is-target")).to_contain_text(XSS)
    assert page.locator("#main b, #main script, #main img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, "escaped-markup-laptop.png")


# ------------------------------------------------------------ research tools


def _bar_position(page: Page, year: int) -> tuple[float, float]:
    """Where the chart draws ``year``'s bar, from ECharts' own coordinate mapping."""
    x, y = page.evaluate(
        """(year) => {
            const el = document.querySelector('#trend-chart');
            const chart = echarts.getInstanceByDom(el);
            const [x, y] = chart.convertToPixel({ seriesIndex: 0 }, [String(year), 1]);
            const box = el.getBoundingClientRect();
            return [x + box.left, y + box.top];
        }""",
        year,
    )
    return x, y


@needs_chromium
def test_trend_chart_shows_every_year_and_a_click_filters_to_one(
    page: Page, server: LiveServer, http: httpx.Client
) -> None:
    groups = http.get("/trends", params={"q": "新质生产力"}).json()["groups"]
    years = [g for g in groups if g["key"] is not None]
    search(page, server.url, "新质生产力")
    page.get_by_role("button", name="年度趋势").click()
    wait_ready(page)
    expect(page.locator("#trend-chart canvas").first).to_be_visible()
    expect(page.locator("#trend-chart")).to_have_attribute("data-years", str(len(years)))
    said = [g["key"] for g in years if g["passages"]]
    assert said and said[0] >= 2024, "新质生产力 is new"
    expect(page.locator("#trend-years a")).to_have_count(len(said))
    shot(page, "trend-chart.png")
    page.mouse.click(*_bar_position(page, said[0]))
    wait_ready(page)
    assert query_of(page)["year_from"] == [str(said[0])] == query_of(page)["year_to"]
    dates = page.locator(".hit .meta-date .value").all_inner_texts()
    assert dates and all(d.startswith(str(said[0])) for d in dates)
    expect(page.locator("#trend")).to_be_visible()  # the timeline stays open


@needs_chromium
def test_compare_similar_and_export_from_the_page(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/?q=低空经济&mode=hybrid&year_from=2026&year_to=2026")
    wait_ready(page)
    page.get_by_role("button", name="分省对比").click()
    wait_ready(page)
    regions = page.locator("#compare-rows > li").evaluate_all(
        "els => els.map(e => e.dataset.region)"
    )
    assert sorted(regions) == sorted(["浙江省", "湖北省", "江西省"])
    page.locator(".btn-similar").first.click()
    expect(page.locator(".similar li").first).to_be_visible()
    shot(page, "compare-similar.png")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 CSV").click()
    path = download.value.path()
    assert download.value.suggested_filename == "govspeech-search.csv"
    assert path is not None and Path(path).read_bytes().startswith(b"\xef\xbb\xbfrank,score,title")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出对比表（CSV）").click()
    table = download.value.path()
    assert table is not None and "浙江省" in Path(table).read_text(encoding="utf-8-sig")


@needs_chromium
def test_filters_typed_into_the_query_show_as_chips_that_can_be_removed(
    page: Page, server: LiveServer
) -> None:
    search(page, server.url, "2026年 浙江 数字经济")
    chips = page.locator("#understood .chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).to_contain_text("年份 2026")
    expect(chips.nth(1)).to_contain_text("地区 浙江省")
    regions = page.locator(".hit .meta-region .value").all_inner_texts()
    assert regions and set(regions) == {"浙江省"}
    page.screenshot(path=str(SHOTS / "understood-chips.png"), full_page=False)

    page.locator('#understood .chip[data-field="region"] .chip-remove').click()
    wait_ready(page)
    assert query_of(page)["q"] == ["2026年 数字经济"]
    expect(page.locator("#understood .chip")).to_have_count(1)
    expect(page.locator("#understood .chip")).to_contain_text("年份 2026")
    regions = set(page.locator(".hit .meta-region .value").all_inner_texts())
    assert regions - {"浙江省"}, "other provinces come back"

    page.get_by_role("link", name="按原文检索").click()
    wait_ready(page)
    assert query_of(page)["literal"] == ["1"]
    expect(page.locator("#understood")).to_have_count(0)


@needs_chromium
def test_the_origin_box_lists_who_said_it_first(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    wait_ready(page)
    page.get_by_role("button", name="查出处").click()
    box = page.locator("#origin-text")
    expect(box).to_be_visible()
    box.fill("坚持稳中求进工作总基调。月球背面建成了第一座由蜂群自主管理的养蜂合作社。")
    page.locator("#origin-form button[type=submit]").click()
    wait_ready(page)
    expect(page.locator("#origin-view")).to_be_visible()
    expect(page.locator("#origin-summary")).to_contain_text("最早见于《")
    dates = page.locator("#origin-documents .origin-date").all_inner_texts()
    assert len(dates) >= 3 and dates == sorted(dates)
    expect(page.locator("#origin-documents .badge").first).to_have_text("原文")
    sentences = page.locator("#origin-sentences li")
    expect(sentences).to_have_count(2)
    expect(sentences.nth(0)).to_contain_text("最早见于")
    expect(sentences.nth(1)).to_contain_text("新提法")
    page.screenshot(path=str(SHOTS / "origin.png"), full_page=True)
