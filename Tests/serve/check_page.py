"""The search page in headless Chromium (Debian's chromium and chromium-driver, through selenium): type a caption,
wait for the grid, check its thumbnails (loaded images), similarities and captions, and the ELIP column; drop an
image file on the page and wait for results; save screenshots into --out."""

import argparse
import base64
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--key", default="")
ap.add_argument("--caption", required=True)
ap.add_argument("--image", required=True, help="an image file to drop on the page")
ap.add_argument("--out", required=True)
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += 0 if cond else 1


options = webdriver.ChromeOptions()
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
    options.add_argument(a)
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
try:
    driver.set_page_load_timeout(30)
    driver.get(args.url + "/health")   # an origin to keep the key in before the page itself (which needs it)
    if args.key:
        driver.execute_script("localStorage.setItem('clipcore-key', arguments[0]);", args.key)
    driver.get(args.url + "/")
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.find_element(By.ID, "index").find_elements(By.TAG_NAME, "option"))
    box = driver.find_element(By.ID, "q")
    box.send_keys(args.caption)
    driver.find_element(By.ID, "go").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error"))
    state = driver.find_element(By.TAG_NAME, "body").get_attribute("data-state")
    check(state == "done", "text search finished without error (status: %s)" % driver.find_element(By.ID, "status").text)
    cells = driver.find_elements(By.CSS_SELECTOR, "#base .result")
    check(len(cells) > 0, "the base grid shows %d results" % len(cells))
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0;", img)
                             for img in d.find_elements(By.CSS_SELECTOR, "#base .result img")))
    imgs = driver.find_elements(By.CSS_SELECTOR, "#base .result img")
    loaded = sum(1 for img in imgs if driver.execute_script("return arguments[0].naturalWidth;", img) > 0)
    check(loaded == len(cells), "every thumbnail loaded (%d of %d)" % (loaded, len(cells)))
    sims = [float(c.find_element(By.CLASS_NAME, "sim").text.split()[0]) for c in cells]
    check(sims == sorted(sims, reverse=True), "similarities shown, best first")
    check(all(c.find_element(By.CLASS_NAME, "caption").text for c in cells), "every result shows a caption")
    elip = driver.find_element(By.ID, "elip-column")
    elip_cells = driver.find_elements(By.CSS_SELECTOR, "#elip .result")
    check(elip.is_displayed() and len(elip_cells) == len(cells) and "base #" in elip_cells[0].find_element(By.CLASS_NAME, "sim").text,
          "the ELIP re-ranked grid beside the base one (%d results)" % len(elip_cells))
    driver.save_screenshot(os.path.join(args.out, "search-text.png"))

    # Drop an image: a synthetic drop event carrying the file.
    data = base64.b64encode(open(args.image, "rb").read()).decode()
    driver.execute_script("document.body.dataset.state = '';")
    driver.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
        const file = new File([bytes], 'query.png', { type: 'image/png' });
        const dt = new DataTransfer(); dt.items.add(file);
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    """, data)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error"))
    cells = driver.find_elements(By.CSS_SELECTOR, "#base .result")
    top = cells[0].find_element(By.CLASS_NAME, "sim").text if cells else ""
    check(driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done" and cells and float(top.split()[0]) > 0.99,
          "a dropped image finds itself first (similarity %s)" % top)
    driver.save_screenshot(os.path.join(args.out, "search-image.png"))
finally:
    driver.quit()
sys.exit(1 if failures else 0)
