#!/usr/bin/env node
import { main } from "./program.ts";
import { installSignalCleanup } from "./signals.ts";

installSignalCleanup();

process.exitCode = await main(process.argv);
