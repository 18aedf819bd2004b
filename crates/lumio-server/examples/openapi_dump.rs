//! Prints the OpenAPI document the server serves: `cargo run -p lumio-server --example openapi_dump`.

fn main() {
    let document = lumio_server::api_document();
    println!(
        "{}",
        serde_json::to_string_pretty(&document).expect("the document serializes")
    );
}
