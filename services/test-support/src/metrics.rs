//! The real server's Prometheus endpoint: a plain HTTP/1.1 GET over a real socket, and reading
//! one sample out of the text format.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET path` on `addr`: the status code and the body. Panics if the server does not answer.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("the metrics endpoint answers in time")
        .expect("an HTTP exchange with the metrics endpoint");
    let text = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status line");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The value of the sample `name{labels}` in a text-format scrape; `labels` are `key="value"`
/// pairs in any order, and must be all of the sample's labels. `None` if there is no such sample.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    wanted.sort();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, found) = match series.split_once('{') {
                Some((metric, rest)) => {
                    let mut found: Vec<String> = rest
                        .trim_end_matches('}')
                        .split(',')
                        .filter(|pair| !pair.is_empty())
                        .map(str::to_string)
                        .collect();
                    found.sort();
                    (metric, found)
                }
                None => (series, Vec::new()),
            };
            (metric == name && found == wanted).then(|| value.parse().ok())?
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_name_and_all_labels() {
        let text = "# HELP x y\n# TYPE x counter\nx{a=\"1\",b=\"2\"} 3\nx{a=\"1\"} 4\ny 5\n";
        assert_eq!(sample(text, "x", &[("b", "2"), ("a", "1")]), Some(3.0));
        assert_eq!(sample(text, "x", &[("a", "1")]), Some(4.0));
        assert_eq!(sample(text, "y", &[]), Some(5.0));
        assert_eq!(sample(text, "x", &[("a", "2")]), None);
    }
}
