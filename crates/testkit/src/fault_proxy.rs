//! An HTTP proxy on loopback that injects faults into chosen requests.
//!
//! It sits between a client and a real object-store server and forwards
//! requests unchanged (the Host header too, so SigV4 and SharedKey
//! signatures still verify). Rules pick requests by method and by the
//! presence of a header (`if-none-match` marks a create-if-absent,
//! `if-match` a conditional replace) and apply a fault a set number of
//! times. The interesting faults are the ones after forwarding: the server
//! has applied the write but the client never learns it — the lost reply.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What to do to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status without forwarding.
    Status(u16),
    /// Forward, then close the connection without answering.
    DropAfterForward,
    /// Forward, then answer with this status instead of the server's.
    StatusAfterForward(u16),
    /// Forward, then hold the answer this long.
    Delay(Duration),
    /// Hold the request this long, then forward it and stream the answer
    /// back as it arrives: a model of object-storage latency (the delay is
    /// paid once per request, the body is not buffered), the way the peers'
    /// cold-path proxy adds it.
    Latency(Duration),
    /// Forward, then answer with only the first `n` body bytes, with a
    /// matching `Content-Length` and every other header unchanged: a server
    /// that returns less than the range it claims.
    ShortBody(usize),
}

/// Which requests a fault applies to, and how many times.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Only this method, if set.
    pub method: Option<Method>,
    /// Only requests carrying this header (lower-case name), if set.
    pub header: Option<&'static str>,
    /// Apply to this many matching requests, then retire.
    pub times: usize,
    /// The fault.
    pub fault: Fault,
}

#[derive(Debug, Default)]
struct State {
    rules: Mutex<Vec<Rule>>,
    requests: AtomicUsize,
    faults_applied: AtomicUsize,
    /// Method and path of every request, in arrival order.
    log: Mutex<Vec<(Method, String)>>,
}

impl State {
    /// The fault for this request, consuming one use of the first matching rule.
    fn take_fault(&self, method: &Method, headers: &hyper::HeaderMap) -> Option<Fault> {
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = rules.iter().position(|r| {
            r.times > 0
                && r.method.as_ref().is_none_or(|m| m == method)
                && r.header.is_none_or(|h| headers.contains_key(h))
        })?;
        rules[index].times -= 1;
        self.faults_applied.fetch_add(1, Ordering::SeqCst);
        Some(rules[index].fault)
    }
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

type ProxyError = Box<dyn std::error::Error + Send + Sync>;

/// An answer's body: buffered (faults that rewrite it) or streamed.
type ProxyBody = BoxBody<Bytes, ProxyError>;

fn buffered(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

impl FaultProxy {
    /// Start a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let accept_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, client, upstream) = (
                    Arc::clone(&accept_state),
                    client.clone(),
                    Arc::clone(&upstream),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        forward(
                            req,
                            Arc::clone(&state),
                            client.clone(),
                            Arc::clone(&upstream),
                        )
                    });
                    // A dropped connection ends here with an error: that is the point.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// A proxy to `upstream` that holds every request `delay` before
    /// forwarding it ([`Fault::Latency`]): a model of object-storage latency.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn with_latency(upstream: &str, delay: Duration) -> std::io::Result<Self> {
        let proxy = Self::start(upstream).await?;
        proxy.add_rule(Rule {
            method: None,
            header: None,
            times: usize::MAX,
            fault: Fault::Latency(delay),
        });
        Ok(proxy)
    }

    /// The proxy's base URL, to use as the client's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Add a rule; rules are tried in the order added.
    pub fn add_rule(&self, rule: Rule) {
        self.state
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(rule);
    }

    /// Retire every rule, used up or not.
    pub fn clear_rules(&self) {
        self.state
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Method and path (no query string) of every request so far.
    pub fn request_log(&self) -> Vec<(Method, String)> {
        self.state
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Faults applied so far.
    pub fn faults_applied(&self) -> usize {
        self.state.faults_applied.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    req: Request<Incoming>,
    state: Arc<State>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Arc<str>,
) -> Result<Response<ProxyBody>, ProxyError> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    state
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((req.method().clone(), req.uri().path().to_owned()));
    let fault = state.take_fault(req.method(), req.headers());
    if let Some(Fault::Status(code)) = fault {
        return Ok(status_response(code));
    }
    if let Some(Fault::Latency(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream_req = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != CONNECTION {
            upstream_req = upstream_req.header(name, value);
        }
    }
    let response = client.request(upstream_req.body(Full::new(body))?).await?;
    let (mut head, body) = response.into_parts();
    if let Some(Fault::Latency(_)) = fault {
        // Stream the answer through, framing headers untouched.
        head.headers.remove(CONNECTION);
        return Ok(Response::from_parts(
            head,
            body.map_err(ProxyError::from).boxed(),
        ));
    }
    let body = body.collect().await?.to_bytes();
    match fault {
        Some(Fault::DropAfterForward) => Err("fault: connection dropped after forwarding".into()),
        Some(Fault::StatusAfterForward(code)) => Ok(status_response(code)),
        Some(Fault::ShortBody(n)) => {
            let cut = body.slice(..n.min(body.len()));
            head.headers.remove(TRANSFER_ENCODING);
            head.headers.insert(CONTENT_LENGTH, cut.len().into());
            Ok(Response::from_parts(head, buffered(cut)))
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            head.headers.remove(TRANSFER_ENCODING);
            Ok(Response::from_parts(head, buffered(body)))
        }
        _ => {
            head.headers.remove(TRANSFER_ENCODING);
            head.headers.remove(CONNECTION);
            Ok(Response::from_parts(head, buffered(body)))
        }
    }
}

fn status_response(code: u16) -> Response<ProxyBody> {
    let mut response = Response::new(buffered(Bytes::from_static(b"injected fault")));
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
