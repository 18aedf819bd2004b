//! Where the CLI may send a request: one rule for every command, applied by the client
//! before anything leaves. Plain http only to this machine (127.0.0.0/8, ::1,
//! `localhost`) unless `--insecure-http`; never a URL with a user name or password, which
//! hides the real host from a reader (`http://localhost:x@evil.example`).

use std::net::Ipv6Addr;

use url::{Host, Url};

use crate::error::CliError;

/// Parses a server URL: http(s), a host, no user name or password, no query or fragment.
/// Messages echo the text only when it is a plain `scheme://host…` URL: anything else
/// may be a token pasted in the wrong place, or hold a password (`user:…@`, `?key=…`).
pub fn parse_server_url(raw: &str) -> Result<Url, CliError> {
    let raw = raw.trim();
    let example = format!("use a URL like {}", crate::config::DEFAULT_URL);
    let plain = raw.contains("://") && !raw.contains(['@', '?', '#']);
    let shown = if plain {
        format!("{raw:?}")
    } else {
        "the server URL".to_owned()
    };
    let not_a_url = || CliError::usage(format!("{shown} is not a server URL")).with_hint(&example);
    let url = Url::parse(raw).map_err(|_| not_a_url())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(not_a_url());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CliError::usage(
            "the server URL holds a user name or password (`…@` before the host); Lumio \
             takes neither in a URL",
        )
        .with_hint(
            "give the URL as http(s)://HOST:PORT and the token with --token or LUMIO_TOKEN",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CliError::usage(format!(
            "{shown} has a query or fragment; a server URL has neither"
        ))
        .with_hint(example));
    }
    Ok(url)
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or `::1`. Not
/// `::ffff:127.0.0.1` and other spellings a resolver or proxy may send elsewhere.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// Refuses a request that would cross the network in the clear (or to a URL with
/// credentials in it), before any connection is made.
pub fn check(url: &Url, insecure_http: bool) -> Result<(), CliError> {
    parse_server_url(url.as_str())?;
    if url.scheme() == "http" && !is_loopback(url) && !insecure_http {
        let base = url.as_str().trim_end_matches('/');
        return Err(CliError::usage(format!(
            "refusing to talk to {base} over plain http: the token and every secret sent \
             with it would cross the network unencrypted"
        ))
        .with_hint(
            "use the server's https:// URL (start it with --tls-cert/--tls-key), or pass \
             --insecure-http (LUMIO_INSECURE_HTTP=true) if this network is trusted",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn loopback_is_this_machine_only() {
        for near in [
            "http://127.0.0.1:7311",
            "http://127.1.2.3",
            "http://127.1",
            "http://localhost:1",
            "http://LOCALHOST",
            "http://[::1]:1",
        ] {
            assert!(is_loopback(&url(near)), "{near}");
        }
        for far in [
            "http://[::ffff:127.0.0.1]:7311",
            "http://[::ffff:7f00:1]",
            "http://lumio.example.com",
            "http://localhost.example.com",
            "http://localhost.",
            "http://0.0.0.0",
            "http://[::]",
            "http://10.0.0.1",
        ] {
            assert!(!is_loopback(&url(far)), "{far}");
        }
    }

    #[test]
    fn plain_http_leaves_this_machine_only_when_asked() {
        assert!(check(&url("http://127.0.0.1:7311"), false).is_ok());
        assert!(check(&url("https://lumio.example.com"), false).is_ok());
        let refused = check(&url("http://[::ffff:127.0.0.1]:7311"), false).unwrap_err();
        assert!(refused.message.contains("plain http"), "{refused:?}");
        assert!(check(&url("http://[::ffff:127.0.0.1]:7311"), true).is_ok());
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_echoed() {
        for bad in [
            "http://localhost:x@[::ffff:127.0.0.1]:7311",
            "http://user@127.0.0.1",
            "https://a:sk-canary@lumio.example.com",
            "http://a:sk-canary@",
            "lumio_admin_sk-canary",
            "https://lumio.example.com/?key=sk-canary",
        ] {
            let err = parse_server_url(bad).unwrap_err();
            let text = format!("{} {}", err.message, err.hint.unwrap_or_default());
            assert!(!text.contains("sk-canary"), "{text}");
            assert_eq!(err.failure, crate::error::Failure::Usage, "{bad}");
        }
        assert!(check(&url("http://localhost:x@[::ffff:127.0.0.1]:1"), true).is_err());
    }

    #[test]
    fn urls_need_a_scheme_and_host() {
        for bad in ["ftp://h", "h:1", "http://", "https://", "", "http://h/?a=1"] {
            assert!(parse_server_url(bad).is_err(), "{bad}");
        }
        assert!(parse_server_url(" https://h:1/prefix/ ").is_ok());
    }
}
