"""The web module in a real browser (issue 16): headless Chromium driven by Selenium against the real binary.

Two long browser tests (a browser is slow to start) and one without: the chat app (three sessions: sign-up, rooms,
groups, live messages, typing, presence, ticks, reactions, replies, edits, deletes, images, search, infinite scroll,
a reconnect with catch-up, a direct conversation's unread badge, call buttons) and the operator console (live
connection count, deactivation, masked secrets, a non-admin refused, room deletion). axe-core (from
axe-selenium-python) checks the sign-in page, the chat app and the console; each page is checked for horizontal
scroll at 390x844, and the browser's log for Content-Security-Policy refusals. Screenshots go to docs/screenshots/.

The socket cut: the server is stopped (SIGTERM: every socket gets the going-away close from the server), a second
`parley` process on the same database takes the changes made meanwhile (sent, edited and deleted over REST), then
the server starts again on its port. Nothing in the page is told; it must reconnect by itself (backoff) and catch
up with GET /api/v1/sync. The changes cannot reach it live: no server it could reach was up while they were made.

Needs Debian's `chromium` and `chromium-driver` (scripts/test installs them).
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
import uuid
import zlib
from pathlib import Path

import pytest
import requests
import websocket
from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import (HTTP_TIMEOUT, JWT_SECRET, PASSWORD, REPO, ParleyServer, _merge, login, register_and_login,
                      storage_driver)

WAIT = 60  # seconds for anything to show up in a page (a busy two-core CI box)
SCREENSHOTS = REPO / "docs" / "screenshots"
CALLS_SECRET = "web-test-jitsi-secret-0123456789"
MODULES = {"messaging": {}, "rooms": {}, "direct": {}, "groups": {}, "files": {},
           "calls": {"app_secret": CALLS_SECRET}, "web": {}}

MESSAGES_JS = """
return [...document.querySelectorAll('#messages li.msg')].map(li => {
  const img = li.querySelector('.attachment img');
  const dot = li.querySelector('.dot');
  return {id: li.dataset.id || null, pending: li.classList.contains('pending'),
          body: (li.querySelector('.msg-body') || {}).textContent, status: li.dataset.status || null,
          sender: li.dataset.sender || null, deleted: li.classList.contains('deleted'), edited: !!li.querySelector('.edited'),
          reactions: [...li.querySelectorAll('.reactions button')].map(b => b.textContent),
          image: img ? {src: img.getAttribute('src') || '', width: img.naturalWidth} : null,
          online: dot ? dot.classList.contains('online') : null};
});
"""


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    assert browser and os.path.exists(driver), "Debian's chromium and chromium-driver are needed (scripts/test installs them)"
    return browser, driver


def new_browser(width=1280, height=860):
    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--disable-background-timer-throttling",
                     "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


def until(driver, condition, message: str, timeout: float = WAIT):
    """Waits for `condition()` to be truthy (exceptions count as not yet) and returns its value."""
    def check(_):
        try:
            return condition()
        except Exception:  # noqa: BLE001 - an element re-rendered under us: try again
            return False
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(check, message)


def by_id(driver, element_id):
    return driver.find_element(By.ID, element_id)


def messages(driver) -> list[dict]:
    return driver.execute_script(MESSAGES_JS)


def message_with(driver, body: str) -> dict | None:
    found = [m for m in messages(driver) if m["body"] == body and not m["pending"]]
    return found[0] if found else None


def badge(driver, channel_id: str) -> str | None:
    return driver.execute_script(
        "const b = document.querySelector(`button[data-channel='${arguments[0]}'] .badge`); return b ? b.dataset.count : null;",
        channel_id)


def channel_id(driver, name: str) -> str:
    def find():
        for button in driver.find_elements(By.CSS_SELECTOR, "#sidebar button.channel"):
            if button.find_element(By.CSS_SELECTOR, ".name").text.lstrip("# ").strip() == name:
                return button.get_attribute("data-channel")
        return None
    return until(driver, find, f"no channel {name} in the sidebar")


def wait_online(driver):
    until(driver, lambda: by_id(driver, "connection").text == "Online", "the page never connected")


def sign_up(driver, base_url: str, name: str) -> dict:
    """Signs up through the form and waits for the chat app to connect. Returns the account's details."""
    username = f"{name}_{uuid.uuid4().hex[:6]}"
    email = f"{username}@example.com"
    driver.get(base_url + "/")
    until(driver, lambda: by_id(driver, "signin-form").is_displayed(), "no sign-in form")
    by_id(driver, "show-signup").click()
    by_id(driver, "signup-username").send_keys(username)
    by_id(driver, "signup-email").send_keys(email)
    by_id(driver, "signup-password").send_keys(PASSWORD)
    by_id(driver, "signup-form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(driver, lambda: by_id(driver, "chat-view").is_displayed(), f"{name} did not get into the chat app")
    wait_online(driver)
    user_id = driver.execute_script("return JSON.parse(sessionStorage.getItem('parley.session')).user.id")
    return {"username": username, "email": email, "id": user_id}


def send(driver, text: str):
    box = by_id(driver, "composer-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def click_in_message(driver, message_id: str, selector: str):
    driver.find_element(By.CSS_SELECTOR, f"li[id='m-{message_id}'] {selector}").click()


def open_channel(driver, channel: str):
    driver.find_element(By.CSS_SELECTOR, f"#sidebar button[data-channel='{channel}']").click()
    until(driver, lambda: driver.find_element(By.CSS_SELECTOR, f"#sidebar button[data-channel='{channel}']")
          .get_attribute("aria-current") == "true", "the channel did not open")


def assert_accessible(driver, page: str):
    """No serious or critical axe-core violation (the rules of WCAG 2.x A and AA and best practices)."""
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{page}: " + axe.report(bad)


def assert_no_horizontal_scroll(driver, page: str, also=None):
    """At a phone's 390x844 CSS pixels the page fits its width (then `also()` runs at that size)."""
    size = driver.get_window_size()
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    try:
        metrics = until(driver, lambda: driver.execute_script(
            "return innerWidth === 390 ? [document.documentElement.scrollWidth, innerWidth] : null"), "no 390px viewport")
        assert metrics[0] <= metrics[1], f"{page} scrolls sideways at 390x844: scrollWidth {metrics[0]} > {metrics[1]}"
        if also:
            also()
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.set_window_size(size["width"], size["height"])


def assert_no_csp_violations(driver, page: str):
    """The pages run under their strict policy without tripping it (Chrome logs every refusal)."""
    refused = [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert not refused, f"{page}: {refused}"


def screenshot(driver, name: str):
    # Once per suite run: the SQLite pass (the shipped default) writes them; the PostgreSQL pass leaves them be.
    if storage_driver() != "sqlite":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(SCREENSHOTS / name))


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small valid PNG (for libmagic and for the browser to decode)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def rest(srv_url: str, method: str, path: str, token: str, body=None) -> dict:
    response = requests.request(method, f"{srv_url}/api/v1/{path}", json=body,
                                headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)
    assert response.status_code < 300, f"{method} {path} -> {response.status_code} {response.text}"
    return response.json()


@pytest.fixture
def browsers():
    opened = []

    def open_one(**kwargs):
        driver = new_browser(**kwargs)
        opened.append(driver)
        return driver

    yield open_one
    for driver in opened:
        try:
            driver.quit()
        except Exception:  # noqa: BLE001
            pass


def test_pages_assets_and_headers(server):
    """What the module serves, without a browser: pages with a strict CSP, assets with ETags, 404s in the envelope."""
    srv = server(modules={"messaging": {}, "rooms": {}, "web": {}})
    page = requests.get(srv.url + "/", timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert f"ws://127.0.0.1:{srv.port}" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script src=\"/web/app.js\"" in page.text and "<script>" not in page.text and "style=" not in page.text
    again = requests.get(srv.url + "/", headers={"If-None-Match": page.headers["ETag"]}, timeout=HTTP_TIMEOUT)
    assert again.status_code == 304 and not again.content
    script = requests.get(srv.url + "/web/app.js", timeout=HTTP_TIMEOUT)
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["ETag"] and script.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(srv.url + "/web/app.js", headers={"If-None-Match": script.headers["ETag"]},
                        timeout=HTTP_TIMEOUT).status_code == 304
    console = requests.get(srv.url + "/admin", timeout=HTTP_TIMEOUT)
    assert console.status_code == 200 and "/web/admin.js" in console.text
    for path in ("/web/nothing.js", "/web/..%2fWebModule.swift", "/no-such-page"):
        missing = requests.get(srv.url + path, timeout=HTTP_TIMEOUT)
        assert missing.status_code == 404 and missing.json()["success"] is False, path
    # Off in the manifest: no pages (the JSON 404 of an unknown path); `console: false` leaves the chat app alone.
    bare = server(modules={"messaging": {}, "rooms": {}})
    assert requests.get(bare.url + "/", timeout=HTTP_TIMEOUT).status_code == 404
    chat_only = server(modules={"messaging": {}, "rooms": {}, "web": {"console": False}})
    assert requests.get(chat_only.url + "/", timeout=HTTP_TIMEOUT).status_code == 200
    assert requests.get(chat_only.url + "/admin", timeout=HTTP_TIMEOUT).status_code == 404


@pytest.mark.timeout(900)
def test_chat_app_in_three_browsers(server, browsers):
    srv = server(modules=MODULES)
    a, b = browsers(), browsers()

    # The sign-in page: accessible, fits a phone.
    a.get(srv.url + "/")
    until(a, lambda: by_id(a, "signin-form").is_displayed(), "no sign-in form")
    assert_accessible(a, "sign-in page")
    assert_no_horizontal_scroll(a, "sign-in page")

    alice = sign_up(a, srv.url, "alice")
    bob = sign_up(b, srv.url, "bob")

    # Alice creates a room; Bob browses the rooms and joins it.
    room_name = f"lobby-{uuid.uuid4().hex[:5]}"
    by_id(a, "room-name").send_keys(room_name + Keys.ENTER)
    room = channel_id(a, room_name)
    until(a, lambda: by_id(a, "channel-title").text == f"# {room_name}", "the new room did not open")
    by_id(b, "browse-rooms").click()
    until(b, lambda: b.find_element(By.CSS_SELECTOR, f"#room-browser li[data-room='{room}'] button").is_displayed(), "room not listed")
    b.find_element(By.CSS_SELECTOR, f"#room-browser li[data-room='{room}'] button").click()
    until(b, lambda: by_id(b, "channel-title").text == f"# {room_name}", "Bob did not get into the room")

    # Live messages both ways; presence dots; typing.
    send(a, "Hello from Alice")
    hello = until(b, lambda: message_with(b, "Hello from Alice"), "Bob never saw Alice's message")
    assert hello["sender"] == alice["id"] and hello["online"] is True
    send(b, "Hi Alice")
    reply = until(a, lambda: message_with(a, "Hi Alice"), "Alice never saw Bob's message")
    until(a, lambda: message_with(a, "Hi Alice")["online"] is True, "Bob is not shown online to Alice")
    by_id(b, "composer-input").send_keys("still typ")
    until(a, lambda: bob["username"] in by_id(a, "typing").text and "typing" in by_id(a, "typing").text, "no typing indicator")
    by_id(b, "composer-input").clear()
    assert reply["id"]

    # Delivered, then seen: Bob looks at another room while Alice writes, then comes back.
    other_name = f"side-{uuid.uuid4().hex[:5]}"
    by_id(b, "room-name").send_keys(other_name + Keys.ENTER)
    until(b, lambda: by_id(b, "channel-title").text == f"# {other_name}", "Bob's second room did not open")
    send(a, "Are you there?")
    asked = until(a, lambda: message_with(a, "Are you there?"), "Alice's message is not shown")
    until(a, lambda: message_with(a, "Are you there?")["status"] == "DELIVERED", "never DELIVERED")
    until(b, lambda: badge(b, room) == "1", "no unread badge for Bob")
    open_channel(b, room)
    until(a, lambda: message_with(a, "Are you there?")["status"] == "SEEN", "never SEEN")
    until(b, lambda: badge(b, room) is None, "Bob's badge did not clear")

    # A reaction, an edit and a delete, each seen live by the other side.
    until(b, lambda: message_with(b, "Are you there?"), "Bob does not have the message")
    click_in_message(b, asked["id"], ".react[data-emoji='👍']")
    until(a, lambda: any("👍 1" in r for r in message_with(a, "Are you there?")["reactions"]), "Alice never saw the reaction")
    click_in_message(a, hello["id"], "button.edit")
    box = by_id(a, "composer-input")
    until(a, lambda: box.get_attribute("value") == "Hello from Alice", "the edit did not load the text")
    box.clear()
    box.send_keys("Hello from Alice, edited" + Keys.ENTER)
    until(b, lambda: message_with(b, "Hello from Alice, edited") and message_with(b, "Hello from Alice, edited")["edited"],
          "Bob never saw the edit")
    send(a, "a message to delete")
    doomed = until(b, lambda: message_with(b, "a message to delete"), "Bob never got the message to delete")
    click_in_message(a, doomed["id"], "button.delete")
    until(b, lambda: [m for m in messages(b) if m["id"] == doomed["id"]][0]["deleted"], "Bob never saw the delete")

    # A reply, by keyboard: the reply button, then type and Enter.
    click_in_message(b, reply["id"], "button.reply")
    until(b, lambda: by_id(b, "composer-mode").is_displayed(), "no reply mode")
    send(b, "replying to myself")
    until(a, lambda: a.find_element(By.XPATH, "//li[.//div[@class='msg-body' and text()='replying to myself']]//div[@class='reply-to']"),
          "the reply does not show what it replies to")

    # An image through the file picker, and one dropped on the history: the other side sees previews.
    image = Path(srv.directory) / "square.png"
    image.write_bytes(png(160, 100, (200, 60, 40)))
    by_id(a, "file-input").send_keys(str(image))
    until(b, lambda: any(m["image"] and m["image"]["src"].startswith("blob:") and m["image"]["width"] == 160 for m in messages(b)),
          "Bob never saw the picked image's preview")
    a.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
        document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    """, base64.b64encode(png(10, 30, (40, 160, 60))).decode())
    until(b, lambda: any(m["image"] and m["image"]["width"] == 10 for m in messages(b)), "Bob never saw the dropped image")

    # Search finds a message.
    by_id(a, "search-input").send_keys("edited" + Keys.ENTER)
    until(a, lambda: "Hello from Alice, edited" in by_id(a, "search-list").text, "search found nothing")
    by_id(a, "close-search").click()

    assert_accessible(b, "chat app")

    def phone_drawer():
        # On a phone the conversations are a drawer: by keyboard it opens with focus inside, Escape closes it.
        assert not by_id(b, "sidebar").is_displayed()
        by_id(b, "toggle-sidebar").send_keys(Keys.ENTER)
        until(b, lambda: by_id(b, "sidebar").is_displayed(), "the drawer did not open")
        assert b.switch_to.active_element.get_attribute("data-channel"), "focus did not move into the drawer"
        ActionChains(b).send_keys(Keys.ESCAPE).perform()
        until(b, lambda: not by_id(b, "sidebar").is_displayed(), "Escape did not close the drawer")
        assert b.switch_to.active_element.get_attribute("id") == "toggle-sidebar"
    assert_no_horizontal_scroll(b, "chat app", also=phone_drawer)
    b.execute_script("document.getElementById('drop-zone').scrollTop = 1e9")
    screenshot(b, "chat.png")
    assert_no_csp_violations(a, "chat app")
    assert_no_csp_violations(b, "chat app")

    # The socket cut: the server goes away; changes happen on a second process; the server comes back.
    old_edit = message_with(b, "Are you there?")
    assert old_edit
    srv.stop()
    until(b, lambda: by_id(b, "connection").text != "Online", "Bob's page did not notice the closed socket")
    # Written while offline: kept pending with its clientMessageId, sent once the socket is back.
    send(b, "typed while offline")
    until(b, lambda: any(m["pending"] and m["body"] == "typed while offline" for m in messages(b)), "no pending message")
    interim = ParleyServer(srv.directory, _merge(srv.manifest, {"server": {"port": 0}})).start()
    try:
        token = login(interim.url, alice["email"])["accessToken"]
        sent = [rest(interim.url, "POST", "messages", token, {"roomId": room, "content": f"while you were away {i}",
                                                                "clientMessageId": f"away-{i}"})["data"] for i in range(3)]
        rest(interim.url, "PATCH", f"messages/{sent[1]['id']}", token, {"content": "while you were away 1, edited"})
        rest(interim.url, "DELETE", f"messages/{sent[2]['id']}", token)
        rest(interim.url, "PATCH", f"messages/{asked['id']}", token, {"content": "Are you there? (edited meanwhile)"})
    finally:
        interim.stop()
    srv.start()
    wait_online(b)

    def caught_up():
        shown = messages(b)
        bodies = [m["body"] for m in shown]
        return (bodies.count("while you were away 0") == 1 and bodies.count("while you were away 1, edited") == 1
                and "while you were away 1" not in bodies and "while you were away 2" not in bodies
                and [m for m in shown if m["id"] == sent[2]["id"]][0]["deleted"]
                and bodies.count("Are you there? (edited meanwhile)") == 1 and "Are you there?" not in bodies)
    until(b, caught_up, "Bob's page did not catch up once with what changed while it was disconnected")
    until(b, lambda: message_with(b, "typed while offline") and not any(m["pending"] for m in messages(b)), "the offline message was not sent")
    wait_online(a)
    until(a, lambda: [m["body"] for m in messages(a)].count("typed while offline") == 1, "Alice did not get the offline message once")
    ids = [m["id"] for m in messages(b) if m["id"]]
    assert len(ids) == len(set(ids)), "a message is shown twice"
    wait_online(a)

    # A group: Alice creates it and adds Bob by username; he finds it in his sidebar with its unread message.
    group_name = f"team-{uuid.uuid4().hex[:5]}"
    by_id(a, "group-name").send_keys(group_name + Keys.ENTER)
    until(a, lambda: by_id(a, "channel-title").text == group_name, "the group did not open")
    by_id(a, "member-who").send_keys(bob["username"] + Keys.ENTER)
    until(a, lambda: "was added" in by_id(a, "composer-error").text, "Bob was not added")
    group = channel_id(b, group_name)
    send(a, "welcome to the group")
    until(b, lambda: badge(b, group) == "1", "no unread badge on Bob's group")
    assert by_id(a, "call-button").is_displayed(), "calls are on: a group has a call button"
    open_channel(a, room)

    # A third session opens a direct conversation with Alice: her badge counts up, then clears when she looks.
    c = browsers()
    c.get(srv.url + "/")
    until(c, lambda: c.switch_to.active_element.get_attribute("id") == "signin-identifier", "sign-in field not focused")
    # Keyboard only: Tab to "Create an account", Enter, fill the form with Tab between fields, Enter submits.
    ActionChains(c).send_keys(Keys.TAB, Keys.TAB, Keys.TAB, Keys.ENTER).perform()
    until(c, lambda: c.switch_to.active_element.get_attribute("id") == "signup-username", "sign-up form not focused")
    carol_name = f"carol_{uuid.uuid4().hex[:6]}"
    ActionChains(c).send_keys(carol_name, Keys.TAB, f"{carol_name}@example.com", Keys.TAB, PASSWORD, Keys.ENTER).perform()
    until(c, lambda: by_id(c, "chat-view").is_displayed(), "Carol did not get in by keyboard")
    wait_online(c)
    by_id(c, "direct-who").send_keys(alice["email"] + Keys.ENTER)
    until(c, lambda: by_id(c, "channel-title").text == alice["username"], "the conversation did not open")
    assert by_id(c, "call-button").is_displayed(), "calls are on: a direct conversation has a call button"
    send(c, "psst, Alice")
    conversation = until(a, lambda: a.execute_script(
        "const b = document.querySelector('#direct-list button.channel'); return b && b.dataset.channel"), "no conversation for Alice")
    until(a, lambda: badge(a, conversation) == "1", "Alice's unread badge did not show 1")
    send(c, "are you around?")
    until(a, lambda: badge(a, conversation) == "2", "Alice's unread badge did not count up to 2")
    assert not by_id(a, "call-button").is_displayed(), "no call button in a room"
    open_channel(a, conversation)
    until(a, lambda: badge(a, conversation) is None, "Alice's badge did not clear")
    until(c, lambda: message_with(c, "are you around?")["status"] == "SEEN", "Carol never saw her message SEEN")
    # Cleared on the server too: a fresh load shows no badge.
    a.refresh()
    wait_online(a)
    channel_id(a, carol_name)
    assert badge(a, conversation) is None

    # Infinite scroll: a long history loads its newest page, then older pages as the pane scrolls to the top.
    token = login(srv.url, alice["email"])["accessToken"]
    long_room = rest(srv.url, "POST", "rooms", token, {"name": f"history-{uuid.uuid4().hex[:5]}"})["data"]
    for i in range(45):
        rest(srv.url, "POST", "messages", token, {"roomId": long_room["id"], "content": f"old {i}"})
    a.refresh()
    wait_online(a)
    channel_id(a, long_room["name"])
    open_channel(a, long_room["id"])
    until(a, lambda: message_with(a, "old 44"), "the newest page did not load")
    assert not message_with(a, "old 0"), "the first page should not hold the whole history"
    for _ in range(10):
        if message_with(a, "old 0"):
            break
        a.execute_script("document.getElementById('drop-zone').scrollTop = 0")
        until(a, lambda: a.execute_script("return document.getElementById('drop-zone').scrollTop > 0") or message_with(a, "old 0"),
              "no older page loaded", timeout=20)
    bodies = [m["body"] for m in messages(a)]
    assert [f"old {i}" for i in range(45)] == [body for body in bodies if body.startswith("old ")], "history out of order or repeated"


@pytest.mark.timeout(600)
def test_operator_console(server, browsers):
    srv = server(modules=MODULES)
    from test_admin import ADMIN_PASSWORD, make_admin  # the CLI helper: parley admin create on this server's manifest
    admin = make_admin(srv)
    console = browsers()
    console.get(srv.url + "/admin")
    until(console, lambda: by_id(console, "signin-form").is_displayed(), "no console sign-in")
    by_id(console, "signin-identifier").send_keys(admin["username"])
    by_id(console, "signin-password").send_keys(ADMIN_PASSWORD + Keys.ENTER)
    until(console, lambda: by_id(console, "console-main").is_displayed(), "the console did not open for an admin")
    until(console, lambda: by_id(console, "stat-connections").text.isdigit(), "no connection count")

    # Every secret is masked: the Jitsi app secret never reaches the page.
    until(console, lambda: console.find_element(By.CSS_SELECTOR, "[data-module='calls'] .module-config").text, "no calls config")
    calls_config = console.find_element(By.CSS_SELECTOR, "[data-module='calls'] .module-config").text
    assert "••••••" in calls_config and CALLS_SECRET not in console.page_source and JWT_SECRET not in console.page_source
    until(console, lambda: len(console.find_elements(By.CSS_SELECTOR, "#route-rows tr")) > 20, "no route table")
    assert "/api/v1/admin/overview" in by_id(console, "route-rows").text

    # A browser session connects: the live count goes up; it leaves (to the console, refused): back down.
    before = int(by_id(console, "stat-connections").text)
    visitor = browsers()
    dave = sign_up(visitor, srv.url, "dave")
    until(console, lambda: int(by_id(console, "stat-connections").text) == before + 1, "the count did not go up")
    visitor.get(srv.url + "/admin")  # same tab: the session carries over, the chat page's socket closes
    until(console, lambda: int(by_id(console, "stat-connections").text) == before, "the count did not go back down")
    # A non-admin gets no console data: the API refuses, the page says so.
    until(visitor, lambda: by_id(visitor, "forbidden").is_displayed(), "no 'administrators only' message")
    assert "Administrators only" in by_id(visitor, "forbidden").text
    assert not by_id(visitor, "console-main").is_displayed()
    assert visitor.execute_script("return document.querySelectorAll('#route-rows tr, #user-rows tr, .module').length") == 0
    token = login(srv.url, dave["email"])["accessToken"]
    for path in ("admin/overview", "admin/routes", "admin/errors", "admin/rooms", "admin/groups", "admin/users"):
        refused = requests.get(f"{srv.api}/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)
        assert refused.status_code == 403, path

    # Deactivating a user signs their open page out.
    erin_page = browsers()
    erin = sign_up(erin_page, srv.url, "erin")
    by_id(console, "user-query").send_keys(erin["username"] + Keys.ENTER)
    row = f"#user-rows tr[data-username='{erin['username']}']"
    until(console, lambda: console.find_element(By.CSS_SELECTOR, f"{row} button.deactivate").is_displayed(), "Erin not found")
    console.find_element(By.CSS_SELECTOR, f"{row} button.deactivate").click()
    until(console, lambda: console.find_element(By.CSS_SELECTOR, f"{row} .state").text == "deactivated", "not deactivated")
    until(erin_page, lambda: by_id(erin_page, "auth-view").is_displayed() and not by_id(erin_page, "chat-view").is_displayed(),
          "Erin's page was not signed out")
    assert "session has ended" in by_id(erin_page, "auth-notice").text

    # Rooms are listed and can be deleted (two presses).
    room = register_and_login(srv.url, "roomy")
    made = rest(srv.url, "POST", "rooms", room["token"], {"name": f"doomed-{uuid.uuid4().hex[:5]}"})["data"]
    console.refresh()
    until(console, lambda: console.find_element(By.CSS_SELECTOR, f"#room-rows tr[data-room='{made['id']}'] button").is_displayed(),
          "the room is not listed")
    button = console.find_element(By.CSS_SELECTOR, f"#room-rows tr[data-room='{made['id']}'] button")
    button.click()
    button.click()
    until(console, lambda: not console.find_elements(By.CSS_SELECTOR, f"#room-rows tr[data-room='{made['id']}']"), "not deleted")
    assert requests.get(f"{srv.api}/rooms/{made['id']}", headers={"Authorization": f"Bearer {room['token']}"},
                        timeout=HTTP_TIMEOUT).status_code == 404

    # Some traffic for the rates: a realtime client in a room that gets messages.
    busy = rest(srv.url, "POST", "rooms", room["token"], {"name": f"busy-{uuid.uuid4().hex[:5]}"})["data"]
    listener = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/ws?token={room['token']}", timeout=HTTP_TIMEOUT)
    try:
        for i in range(12):
            rest(srv.url, "POST", "messages", room["token"], {"roomId": busy["id"], "content": f"traffic {i}"})
        until(console, lambda: by_id(console, "stat-mps").text not in ("–", "0.0"), "no message rate shown")
        assert_accessible(console, "console")
        assert_no_horizontal_scroll(console, "console")
        screenshot(console, "console.png")
        assert_no_csp_violations(console, "console")
    finally:
        listener.close()
