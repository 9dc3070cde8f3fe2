@echo off
rem `lifeboat`: the command line of the installed Lifeboat app (like VS Code's `code`). It runs the
rem CLI bundled in the app with the app's own executable in Node mode (ELECTRON_RUN_AS_NODE=1).
rem Layout: <install dir>\Lifeboat.exe, <install dir>\resources\bin\lifeboat.cmd (this file),
rem <install dir>\resources\app.asar\bin\lifeboat.cjs. Add <install dir>\resources\bin to PATH.
setlocal
set ELECTRON_RUN_AS_NODE=1
"%~dp0..\..\Lifeboat.exe" "%~dp0..\app.asar\bin\lifeboat.cjs" %*
set LIFEBOAT_EXIT=%ERRORLEVEL%
endlocal & exit /b %LIFEBOAT_EXIT%
