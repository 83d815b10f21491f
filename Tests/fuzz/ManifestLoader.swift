import Foundation
import ParleyApp
@testable import ParleyKernel

/// The manifest loader on arbitrary text, as `parley serve` reads a manifest: YAML, `${VAR}` substitution,
/// `PARLEY_*` overrides, typed options of every compiled-in module, unknown keys refused. It may accept or refuse;
/// a refusal must be a `ConfigError` that names what is wrong, never a crash or another kind of error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    do {
        let manifest = try Manifest.parse(yaml: text, catalog: .parley, environment: environment)
        // An accepted manifest is one the server can boot from: its enabled modules are in the catalog.
        for id in manifest.enabledModuleIDs {
            precondition(ModuleCatalog.parley.descriptor(id) != nil, "enabled module \(id) is not in the catalog")
        }
    } catch let error as ConfigError {
        precondition(!error.message.isEmpty, "a refusal without a message at '\(error.path)'")
    } catch {
        fatalError("the manifest loader threw \(type(of: error)), not a ConfigError: \(error)")
    }
    return 0
}

/// A fixed environment, so `${VAR}` substitution and `PARLEY_*` overrides are exercised the same way every run.
let environment = [
    "JWT": "fuzz-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    "PARLEY_SERVER_PORT": "4000",
    "PARLEY_MODULES_ROOMS_RECENT_MESSAGES": "20",
    "EMPTY": "",
]
