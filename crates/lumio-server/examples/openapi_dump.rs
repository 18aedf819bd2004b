fn main() {
    println!("{}", lumio_server::api_document().to_pretty_json().unwrap());
}
