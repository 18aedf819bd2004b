//! `lumio-client`: every `lumio` command that is an HTTP client of a server, without
//! `lumio server`, so the binary links neither the store nor crypto.

fn main() -> std::process::ExitCode {
    lumio_cli::main(lumio_cli::commands::run::<lumio_cli::cli::ClientCommand>)
}
