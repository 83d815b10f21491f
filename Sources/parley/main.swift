import ParleyApp

// Parsed by hand rather than `@main`: top-level code in main.swift, and async subcommands run as such.
await ParleyCommand.runFromCommandLine()
