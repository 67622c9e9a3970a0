//! The chamber in a real browser: headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them) against the real `accord-server`
//! with `--web-listen`, through the test-support crate like every other server test.
//!
//! These tests FAIL when the browser or its driver is missing: they never skip. Set
//! `CHROMEDRIVER` and `CHROMIUM` to use other binaries. Every page visited is saved as a
//! screenshot under `target/screenshots/` for review.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accord_proto::v1::{Ballot, Choice, ListBallotsRequest};
use accord_test_support::grpc::{TestServer, ballot, cast, create, date, end_mission, proposal};
use accord_test_support::{Options, build_dir};
use fantoccini::{Client, ClientBuilder, Locator};

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(env: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        return PathBuf::from(path);
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the browser tests need {} (looked in {candidates:?}; set {env}). On Debian: \
                 apt-get install -y chromium chromium-driver",
                candidates[0]
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_browser() -> (Driver, Client) {
    let driver_bin = find(
        "CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    let chromium = find(
        "CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let port = free_port();
    let child = Command::new(&driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1800", "--force-prefers-reduced-motion"],
        }),
    );
    let until = Instant::now() + Duration::from_secs(30);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => break client,
            Err(e) if Instant::now() < until => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!(
                "chromedriver at {} did not start a browser: {e}",
                driver.url
            ),
        }
    };
    (driver, client)
}

fn screenshots() -> PathBuf {
    let dir = build_dir()
        .parent()
        .expect("target directory")
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    // Full page: make the window as tall as the document first.
    let height = client
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(1800)
        .clamp(600, 6000);
    let _ = client.set_window_size(1280, height as u32 + 120).await;
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Polls `check` until it holds or 15 s pass.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    let el = client.find(Locator::Css(css)).await.ok()?;
    el.attr(name).await.ok().flatten()
}

async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn current_ballot(server: &TestServer, proposal: &str, code: &str) -> Option<Ballot> {
    server
        .proposals()
        .list_ballots(ListBallotsRequest {
            proposal: proposal.to_string(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list ballots")
        .into_inner()
        .ballots
        .into_iter()
        .rfind(|b| b.member == format!("members/{code}"))
}

async fn web_server() -> (TestServer, String) {
    let server = TestServer::start(Options {
        web: true,
        ..Options::default()
    })
    .await;
    let web = format!(
        "http://{}",
        server.web.expect("the server prints its web address")
    );
    (server, web)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seat_chart_follows_ballots_live_and_delegations_vote_from_the_page() {
    let (server, web) = web_server().await;
    let (_driver, client) = start_browser().await;
    let created = create(
        &server,
        proposal(
            "End NATO Mission Iraq",
            end_mission("NMI", date(2027, 9, 30)),
            "unanimity",
        ),
    )
    .await;
    let name = created.name.clone();

    // An observer opens the proposal page: no vote form, and the live stream connects.
    client.goto(&format!("{web}/{name}")).await.unwrap();
    eventually("the live stream", || async {
        attr(&client, "#proposal", "data-live").await.as_deref() == Some("on")
    })
    .await;
    assert!(
        client.find(Locator::Css("#vote-form")).await.is_err(),
        "observers have no vote form"
    );
    assert_eq!(
        attr(&client, "#seat-DEU", "class").await.as_deref(),
        Some("seat none")
    );
    // A marker that a reload would wipe.
    client
        .execute("window.__noReload = 42; return true;", vec![])
        .await
        .unwrap();

    // A ballot cast over gRPC appears in the seat chart without a reload.
    cast(&server, &name, ballot("DEU", Choice::Object)).await;
    eventually("DEU's seat to turn to object", || async {
        attr(&client, "#seat-DEU", "class").await.as_deref() == Some("seat object")
    })
    .await;
    let marker = client
        .execute("return window.__noReload;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, serde_json::json!(42), "the page was not reloaded");
    assert_eq!(text(&client, "#count-object").await, "1");
    assert!(
        text(&client, "#ballot-DEU .choice")
            .await
            .contains("object")
    );
    screenshot(&client, "proposal-live").await;

    // Sit as France and vote from the page; the ballot is there over gRPC.
    let seat = client.find(Locator::Css("#seat")).await.unwrap();
    seat.select_by_value("FRA").await.unwrap();
    client
        .find(Locator::Css("form.seat button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("#vote-form"))
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=choice][value=support]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("#salience"))
        .await
        .unwrap()
        .send_keys("0.8")
        .await
        .unwrap();
    client
        .find(Locator::Css("#reason"))
        .await
        .unwrap()
        .send_keys("stay the course")
        .await
        .unwrap();
    client
        .find(Locator::Css("#vote-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("#vote-ok"))
        .await
        .unwrap();
    let fra = current_ballot(&server, &name, "FRA")
        .await
        .expect("FRA's ballot is stored");
    assert_eq!(fra.choice, Choice::Support as i32);
    assert_eq!(fra.salience, Some(0.8));
    assert_eq!(fra.reason, "stay the course");
    eventually("FRA's seat to turn to support", || async {
        attr(&client, "#seat-FRA", "class").await.as_deref() == Some("seat support")
    })
    .await;
    screenshot(&client, "proposal-voted").await;

    // A bad input (salience 7) shows a clear message and changes nothing.
    client
        .find(Locator::Css("input[name=choice][value=object]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let salience = client.find(Locator::Css("#salience")).await.unwrap();
    salience.clear().await.unwrap();
    salience.send_keys("7").await.unwrap();
    client
        .find(Locator::Css("#vote-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = client
        .wait()
        .for_element(Locator::Css("#vote-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        error.contains("salience") && error.contains("outside [0, 1]"),
        "{error}"
    );
    assert_eq!(
        client
            .find(Locator::Css("#salience"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("7"),
        "the form keeps what was typed"
    );
    let after = current_ballot(&server, &name, "FRA").await.unwrap();
    assert_eq!(after, fra, "the refused form changed nothing");
    screenshot(&client, "proposal-bad-input").await;

    // Text that is not a number is refused before the services are asked.
    let salience = client.find(Locator::Css("#salience")).await.unwrap();
    salience.clear().await.unwrap();
    salience.send_keys("lots").await.unwrap();
    client
        .find(Locator::Css("#vote-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(
        "the message about a salience that is not a number",
        || async {
            text(&client, "#vote-error")
                .await
                .contains("must be a number")
        },
    )
    .await;
    assert_eq!(current_ballot(&server, &name, "FRA").await.unwrap(), after);

    // FRA takes its ballot back from the page: gRPC sees the withdrawal, the seat empties.
    client
        .find(Locator::Css("#withdraw-ballot"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let ok = client
        .wait()
        .for_element(Locator::Css("#vote-ok"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ok.contains("withdrawn"), "{ok}");
    let withdrawal = current_ballot(&server, &name, "FRA").await.unwrap();
    assert!(withdrawal.withdrawn, "{withdrawal:?}");
    assert_eq!(withdrawal.choice, Choice::Unspecified as i32);
    assert!(
        text(&client, "#current-ballot")
            .await
            .contains("has not voted yet"),
        "the page shows no ballot for FRA"
    );
    assert!(
        client.find(Locator::Css("#withdraw-ballot")).await.is_err(),
        "nothing left to withdraw"
    );
    eventually("FRA's seat to show no ballot", || async {
        attr(&client, "#seat-FRA", "class").await.as_deref() == Some("seat none")
    })
    .await;
    screenshot(&client, "proposal-withdrawn").await;

    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_and_scenario_errors_point_at_their_lines() {
    let (server, web) = web_server().await;
    let (_driver, client) = start_browser().await;
    let created = create(
        &server,
        proposal(
            "End KFOR",
            end_mission("KFOR", date(2027, 3, 31)),
            "unanimity",
        ),
    )
    .await;
    for code in ["USA", "GBR", "POL"] {
        cast(&server, &created.name, ballot(code, Choice::Support)).await;
    }
    cast(&server, &created.name, ballot("HUN", Choice::Abstain)).await;

    client.goto(&format!("{web}/alliance")).await.unwrap();
    assert!(text(&client, "#members").await.contains("Germany"));
    assert!(text(&client, "#missions").await.contains("KFOR"));
    assert!(text(&client, "#partners").await.contains("Ukraine"));
    screenshot(&client, "alliance").await;

    client.goto(&format!("{web}/proposals")).await.unwrap();
    assert!(text(&client, "#proposals").await.contains("End KFOR"));
    screenshot(&client, "proposals").await;
    client
        .goto(&format!("{web}/proposals?state=adopted"))
        .await
        .unwrap();
    assert!(
        client.find(Locator::Css("#proposals")).await.is_err(),
        "filtered out"
    );

    client
        .goto(&format!("{web}/{}", created.name))
        .await
        .unwrap();
    let verdicts = text(&client, "#evaluation").await;
    for policy in ["unanimity", "weighted", "pressure"] {
        assert!(verdicts.contains(policy), "{verdicts}");
    }
    screenshot(&client, "proposal").await;

    client.goto(&format!("{web}/policies")).await.unwrap();
    let policies = text(&client, "#policies").await;
    assert!(policies.contains("healthy"), "{policies}");
    screenshot(&client, "policies").await;

    // Upload the seed scenario: its report with its charts.
    let seed = accord_test_support::artifacts::workspace_root()
        .join("scenarios/factory-settings-2026.toml");
    client.goto(&format!("{web}/scenarios")).await.unwrap();
    client
        .find(Locator::Css("#scenario"))
        .await
        .unwrap()
        .send_keys(seed.to_str().unwrap())
        .await
        .unwrap();
    client
        .find(Locator::Css("form[enctype] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("#scenario-title"))
        .await
        .unwrap();
    let charts = client
        .find_all(Locator::Css("figure.chart img"))
        .await
        .unwrap();
    assert!(!charts.is_empty(), "the report has charts");
    assert!(
        charts[0]
            .attr("alt")
            .await
            .unwrap()
            .unwrap_or_default()
            .contains("Seat chart"),
        "charts have text alternatives"
    );
    screenshot(&client, "scenario-report").await;

    // A broken file: every problem next to its line.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    let text_of = std::fs::read_to_string(&seed).unwrap().replacen(
        "sponsor = \"USA\"",
        "sponsor = \"XXX\"",
        1,
    );
    std::fs::write(&broken, text_of).unwrap();
    client.goto(&format!("{web}/scenarios")).await.unwrap();
    client
        .find(Locator::Css("#scenario"))
        .await
        .unwrap()
        .send_keys(broken.to_str().unwrap())
        .await
        .unwrap();
    client
        .find(Locator::Css("form[enctype] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let problems = client
        .wait()
        .for_element(Locator::Css("#scenario-problems"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(problems.contains("XXX"), "{problems}");
    let marked = client.find_all(Locator::Css("tr.bad")).await.unwrap();
    assert!(!marked.is_empty(), "the line is marked");
    assert!(marked[0].text().await.unwrap().contains("XXX"));
    screenshot(&client, "scenario-errors").await;

    // A form without the session's token changes nothing.
    client.goto(&format!("{web}/policies")).await.unwrap();
    client
        .execute(
            "document.querySelector('form.operate input[name=csrf]').value = 'forged'; \
             document.querySelector('form.operate').submit(); return true;",
            vec![],
        )
        .await
        .unwrap();
    eventually("the CSRF refusal", || async {
        client
            .source()
            .await
            .unwrap_or_default()
            .contains("security token does not match")
    })
    .await;

    client.close().await.unwrap();
}
