"""Every page of every role, in headless Chromium at 1366×768 and 1024×768 (the screens of township centres
and village PCs): no sideways scrolling, no axe-core finding of serious or critical impact, every control
reached by Tab with a visible focus ring, and on a page of one form its first field has the focus.

One demo tree (village, township, county) is served for the whole module, with three applications in
three states; each role is one browser context (its own cookies) in one browser. A role's test walks all
its pages and reports every finding at once. `test_the_walk_covers_every_page_of_the_app` fails when a view
is added that no role's walk opens."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe

from harness.browser import chromium_browser
from harness.cases import file
from harness.cluster import Cluster
from node.cases.intake import file_for_resident, transition
from node.cases.ratings import issue_token, rate
from node.cli import demo
from node.config import NodeConfig
from node.hub.callbacks import DRAW_ON_DAY, draw_month
from node.rules.callbacks import month_days, month_of
from provisioning.region import CHINA
from storage.database import db
from storage.models import Application
from web import create_app

VIEWPORTS = ((1366, 768), (1024, 768))
FAILING_IMPACTS = {"serious", "critical"}
# GET endpoints outside /api/ that answer with a file, an image or JSON rather than a page a person reads.
NOT_PAGES = {
    "static",
    "health.healthz",
    "station.font",
    "station.sync_status",
    "dashboard.export",
    "admin.audit_csv",
    "workbench.scan",
    "usb.saved_return",
    "printing.document",
    "printing.api_document",
    "seals.image",
    "setup.request_download",  # a file, and only on a PC not set up yet
    "releases.mirrored",  # TUF metadata and release archives a hub mirrors for its children
}
# Pages only a PC that is not set up yet shows, which the walk's enrolled tree cannot: tests/e2e/test_setup_browser.py
# drives them (no sideways scrolling checked there; axe-core not yet).
FRESH_PC_PAGES = {"setup.start"}


@dataclass(frozen=True)
class Site:
    urls: dict[str, str]  # level → http://127.0.0.1:port
    decided: str  # decided at the township, handed over at the village: rateable
    accepted: str  # accepted at the township: the decision's form
    submitted: str  # just filed: acceptance, corrections, refusal
    query_code: str  # the decided one's, for the resident's query at the county
    rating_token: str  # issued at the village for the decided one
    item: str  # an item the agent may file
    bundle: str  # a 一件事 the agent may file
    village: NodeConfig
    rectification: str  # a 差评 filed, decided and rated at the county hall: its rectification case
    call: str  # the path of a call-back of the county's sample of this month


@pytest.fixture(scope="module")
def site(demo_tree, tmp_path_factory):
    """The demo tree served (county, township, village), its three applications in three states."""
    base, port = demo_tree
    copy = tmp_path_factory.mktemp("every-page") / "demo"
    shutil.copytree(base, copy)
    cluster = Cluster(copy, port)
    try:
        for level in ("county", "township", "village"):
            cluster.serve(level)
        village = cluster.open("village")
        catalogue = village.reference.catalogue()
        decided, accepted = (row.number for row in Application.select().order_by(Application.number))
        township_item = Application.get_by_id(decided).item_code
        (submitted,) = file_for_resident(
            village,
            catalogue,
            item_code=township_item,
            applicant=demo.DEMO_RESIDENTS[1],
            consent=True,
            operator="cun.agent",
            request_token=os.urandom(16).hex(),
            now=village.now(),
        )
        bundle = next(
            b for b in catalogue.bundles.values() if all(catalogue.item(c).proxy_allowed for c in b.item_codes)
        )
        db.close()
        assert cluster.sync("village") == 0
        township = cluster.open("township")
        clerk = {"by": "town.clerk", "by_name": "窗口人员"}
        transition(township.events, decided, "application.accepted", clerk)
        transition(township.events, decided, "application.decided", {**clerk, "approved": True})
        transition(township.events, accepted, "application.accepted", clerk)
        db.close()
        assert cluster.sync("township") == 0 and cluster.sync("village") == 0
        village = cluster.open("village")
        transition(village.events, decided, "application.delivered", {"by": "cun.agent", "by_name": "李代办"})
        token = issue_token(decided, village.now())
        db.close()
        assert cluster.sync("village") == 0 and cluster.sync("township") == 0
        county = cluster.open("county")
        code = Application.get_by_id(decided).query_code
        low = file(county, token="every-page-low")
        for step in ("application.accepted", "application.decided", "application.delivered"):
            transition(county.events, low, step, {**clerk, "approved": True} if step.endswith("decided") else clerk)
        rate(county.events, low, "dissatisfied", ["slow"], "", "query")
        county.follow_up()
        month = month_of(county.now().astimezone(CHINA).date())
        draw_month(county, month, month_days(month)[1] + dt.timedelta(days=DRAW_ON_DAY))  # as next month's job
        db.close()
        yield Site(
            urls={level: f"http://127.0.0.1:{cluster.configs[level].port}" for level in cluster.servers},
            decided=decided,
            accepted=accepted,
            submitted=submitted,
            query_code=code,
            rating_token=token,
            item=township_item,
            bundle=bundle.code,
            village=cluster.configs["village"],
            rectification=low,
            call=f"/callbacks/{month}/{decided}",
        )
    finally:
        db.close()
        for level in list(cluster.servers):
            cluster.halt(level)


def pages_of(role: str, site: Site) -> list[str]:
    """The GET pages a role opens, as full addresses."""
    a = "/work/a/"
    paths = {
        "agent": (
            "village",
            [
                "/",
                "/work/",
                "/work/?state=waiting",
                "/work/catalogue",
                f"/work/new?item={site.item}",
                f"/work/new?bundle={site.bundle}",
                a + site.decided,
                a + site.submitted,
                "/work/notices/",
                "/seals/mine",
                "/sync/usb/",
                "/verify",
                "/password",
            ],
        ),
        "clerk": (
            "township",
            [
                "/",
                "/work/",
                "/work/?due=overdue",
                "/work/catalogue",
                "/work/conflicts",
                a + site.decided,
                a + site.accepted,
                a + site.submitted,
                "/seals/mine",
                "/sync/usb/",
                "/password",
            ],
        ),
        "admin": (
            "county",
            [
                "/",
                "/admin/",
                "/admin/register",
                "/admin/audit",
                "/admin/operators",
                "/admin/seals",
                "/admin/holidays",
                "/dashboard/",
                "/rectifications/",
                f"/rectifications/{site.rectification}",
                "/callbacks/",
                site.call,
                "/work/",
                a + site.decided,
                "/work/catalogue",
                "/sync/usb/",
                "/seals/mine",
            ],
        ),
        "resident": ("county", ["/query", "/login", "/verify", "/rate/thanks", "/no-such-page"]),
    }
    level, listed = paths[role]
    urls = [site.urls[level] + path for path in listed]
    if role == "resident":
        urls.append(f"{site.urls['village']}/rate/{site.rating_token}")
    return urls


LOGINS = {"agent": "cun.agent", "clerk": "town.clerk", "admin": "county.admin"}
LEVELS = {"agent": "village", "clerk": "township", "admin": "county"}

# Runs in the page: from now on, note every element that takes the focus and whether a ring shows on it (or,
# for the rating page's hidden radio, on the big label it colours).
_WATCH_FOCUS = """() => {
  window.__focused = [];
  document.addEventListener("focusin", (event) => {
    const el = event.target;
    const style = getComputedStyle(el);
    const ringed = (s) => (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
    const shown = style.opacity === "0" && el.nextElementSibling ? getComputedStyle(el.nextElementSibling) : style;
    if (!el.dataset.kb) el.dataset.kb = String(window.__focused.length + 1);
    window.__focused.push({kb: el.dataset.kb, ring: ringed(shown), html: el.outerHTML.slice(0, 120)});
  });
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])";
  return Array.from(document.querySelectorAll(controls)).filter((el) => el.checkVisibility() && !el.disabled).length;
}"""
_UNREACHED = """() => {
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])";
  const reached = new Set(Array.from(document.querySelectorAll("[data-kb]")).map((el) =>
    el.type === "radio" ? "radio:" + el.name : el));
  return Array.from(document.querySelectorAll(controls))
    .filter((el) => el.checkVisibility() && !el.disabled)
    .filter((el) => !(el.type === "radio" ? reached.has("radio:" + el.name) : el.dataset.kb))
    .map((el) => el.outerHTML.slice(0, 120));
}"""
_FIRST_FIELD = """async () => {
  const fields = "input:not([type=hidden]):not([disabled]), select, textarea";
  const forms = Array.from(document.querySelectorAll("main form")).filter((f) => f.querySelector(fields));
  if (forms.length !== 1 || forms[0].querySelector(fields).type === "radio") return null;  // as focus.js
  for (let frame = 0; frame < 30 && document.activeElement === document.body; frame++) {
    await new Promise(requestAnimationFrame);  // autofocus is applied at a rendering step, perhaps after load
  }
  const active = document.activeElement;  // a page may name another first step (autofocus): USB export's button
  const chosen = active && active.closest("main") && (active.matches(fields) || active.hasAttribute("autofocus"));
  return chosen ? null : (active ? active.outerHTML.slice(0, 80) : "");
}"""


def findings_on(page, url: str, axe: Axe) -> list[str]:
    """What is wrong on the page now open: sideways scrolling or a serious axe finding at either size, the
    first field of its one form without the focus, a control Tab never reaches, a focus with no ring."""
    found = []
    if unfocused := page.evaluate(_FIRST_FIELD):
        found.append(f"{url}: the first field of the page's one form has no focus ({unfocused})")
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if scroll > client:
            found.append(f"{url} at {width}×{height}: {scroll} px wide, scrolls sideways")
        for violation in axe.run(page).response["violations"]:
            if violation["impact"] in FAILING_IMPACTS:
                targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
                found.append(f"{url} at {width}: axe {violation['id']} ({violation['impact']}): {targets}")
    controls = page.evaluate(_WATCH_FOCUS)
    page.evaluate("document.activeElement && document.activeElement.blur()")  # from the top of the page
    # Round the page, twice if need be: Chromium also stops on scrolling boxes (as many as the tables the data
    # filled), and after a blur it goes on from the control that had the focus, reaching it only on the way back.
    unreached, presses = page.evaluate(_UNREACHED), 0
    while unreached and presses < 2 * controls + 40:
        for _ in range(10):
            page.keyboard.press("Tab")
        presses += 10
        unreached = page.evaluate(_UNREACHED)
    found += [f"{url}: Tab never reaches {html}" for html in unreached]
    seen = {}
    for focus in page.evaluate("window.__focused"):
        seen.setdefault(focus["kb"], focus)
    found += [f"{url}: no focus ring on {f['html']}" for f in seen.values() if not f["ring"]]
    return found


def walk(page, urls: list[str], axe: Axe) -> list[str]:
    found = []
    for url in urls:
        answer = page.goto(url)
        if answer.status >= 400 and not url.endswith("/no-such-page"):
            found.append(f"{url}: answered {answer.status}")
        found += findings_on(page, url, axe)
    return found


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as browser:
        yield browser


def context_for(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
    context.set_default_timeout(10_000)
    return context


@pytest.mark.parametrize("role", ["agent", "clerk", "admin"])
def test_every_page_of_a_staff_role_fits_both_screens_passes_axe_and_works_by_keyboard(role, site, browser):
    axe, context = Axe(), context_for(browser)
    page = context.new_page()
    page.goto(f"{site.urls[LEVELS[role]]}/login")
    page.fill("input[name=username]", LOGINS[role])
    page.fill("input[name=password]", demo.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    found = walk(page, pages_of(role, site), axe)
    if role == "admin":  # what a registration gives back: the code, its QR and the steps for the station's PC
        page.goto(f"{site.urls['county']}/admin/register")
        page.fill("input[name=name]", "白塔村便民服务代办点")
        page.select_option("select[name=level]", "village")
        page.fill("input[name=region]", "511302001002")
        with page.expect_navigation():
            page.get_by_role("button", name="登记并生成注册码").click()
        found += findings_on(page, "/admin/register (done)", axe)
    context.close()
    assert not found, "\n".join(found)


def test_every_page_a_resident_sees_fits_both_screens_passes_axe_and_works_by_keyboard(site, browser):
    axe, context = Axe(), context_for(browser)
    page = context.new_page()
    found = walk(page, pages_of("resident", site), axe)  # the rating page last: it is open now
    page.get_by_text("满意", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("button", name="提交评价").click()
    assert re.search(r"/rate/thanks$", page.url)
    page.goto(f"{site.urls['county']}/query")
    page.fill("input[name=code]", site.query_code)
    page.fill("input[name=id_tail]", demo.DEMO_RESIDENTS[0].id_number[-4:])
    with page.expect_navigation():
        page.get_by_role("button", name="查询").click()
    assert page.locator("form.rating input[name=grade]").count() == 5  # the answer asks for a rating
    found += findings_on(page, "/query (answer)", axe)
    context.close()
    assert not found, "\n".join(found)


def test_the_walk_covers_every_page_of_the_app(site):
    app = create_app(site.village)
    db.close()
    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and rule.endpoint not in NOT_PAGES | FRESH_PC_PAGES
        and not rule.rule.startswith("/api/")  # the JSON API and the sync endpoints: programs, not people
    }
    adapter = app.url_map.bind("127.0.0.1")
    walked = set()
    for role in ("agent", "clerk", "admin", "resident"):
        for url in pages_of(role, site):
            path = re.sub(r"^http://[^/]+", "", url).split("?")[0]
            if path != "/no-such-page":
                walked.add(adapter.match(path, method="GET")[0])
    assert pages - walked == set(), "pages no role's walk opens: add them to pages_of"
