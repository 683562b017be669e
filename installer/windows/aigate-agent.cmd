@echo off
rem aigate-agent: runs the bundled agent (lib\aigate-agent.mjs) with Node.js 20 or newer.
setlocal
set "AIGATE_HOME=%~dp0.."
set "AIGATE_NODE="
if exist "%AIGATE_HOME%\node\node.exe" set "AIGATE_NODE=%AIGATE_HOME%\node\node.exe"
if not defined AIGATE_NODE if exist "%AIGATE_HOME%\node-path.txt" set /p AIGATE_NODE=<"%AIGATE_HOME%\node-path.txt"
if not defined AIGATE_NODE set "AIGATE_NODE=node"
rem --max-semi-space-size=2 --expose-gc --v8-pool-size=1: the daemon's memory, as in the POSIX launcher (bench:scan).
"%AIGATE_NODE%" --max-semi-space-size=2 --expose-gc --v8-pool-size=1 "%AIGATE_HOME%\lib\aigate-agent.mjs" %*
exit /b %ERRORLEVEL%
