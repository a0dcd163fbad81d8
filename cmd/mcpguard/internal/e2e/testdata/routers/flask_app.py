"""The Flask upstream of mcpguard's differential path test.

It routes as a Flask MCP server does and answers every request with the name of the
handler that served it: "protected" for the MCP endpoint and everything below it,
"public" for /status, "none" otherwise. Usage: python3 flask_app.py PORT.
"""
import sys

from flask import Flask, request

app = Flask(__name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def answer(name):
    return f"{name} {request.full_path}\n", 200 if name != "none" else 404, {"X-Handler": name}


@app.route("/mcp", methods=METHODS)
@app.route("/mcp/", methods=METHODS)
@app.route("/mcp/<path:rest>", methods=METHODS)
def protected(rest=""):
    return answer("protected")


@app.route("/status")
def public():
    return answer("public")


@app.errorhandler(404)
def none(_):
    return answer("none")


if __name__ == "__main__":
    print("listening", flush=True)
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
