/* The customers' pages (H5): the status lookup and the satisfaction survey (满意度评价).
   Plain ES5 and fetch, for phone browsers and WeChat's; the API is the public one, on the same
   site (relative URLs, so a path prefix in front of the service works too). */
(function () {
  "use strict";
  var API = "../api/v1/public/";
  var KINDS = { complaint: "投诉", inquiry: "咨询", suggestion: "建议" };

  function $(id) { return document.getElementById(id); }

  function say(text, kind) {
    var el = $("message");
    el.textContent = text;
    el.className = "message" + (kind ? " " + kind : "");
  }

  function post(path, body) {
    return fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": "zh-CN" },
      body: JSON.stringify(body),
      credentials: "omit"
    });
  }

  /* What a refusal means to the customer, whatever the API's wording. */
  function refusal(response, notFound) {
    if (response.status === 429) {
      var wait = parseInt(response.headers.get("Retry-After") || "60", 10);
      return "操作过于频繁，请 " + wait + " 秒后再试。";
    }
    if (response.status === 404) { return notFound; }
    if (response.status === 422 || response.status === 400) { return "填写的内容有误，请检查后再试。"; }
    return "服务暂时不可用，请稍后再试。";
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* The API's times carry +08:00 (Asia/Shanghai): shown as written, not in the phone's zone. */
  function shanghai(text) {
    if (!text) { return "—"; }
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text);
    if (!m) { return text; }
    return m[1] + "年" + parseInt(m[2], 10) + "月" + parseInt(m[3], 10) + "日 " + m[4] + ":" + m[5];
  }

  /* 补充证据: the file with the proof the lookup was answered for (受理号 + phone). */
  function evidenceUpload(proof) {
    var form = $("evidence-form");
    var note = $("evidence-message");
    function tell(text, kind) {
      note.textContent = text;
      note.className = "message" + (kind ? " " + kind : "");
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = $("evidence-file").files[0];
      if (!file) { tell("请先选择要上传的文件。", "error"); return; }
      if (file.size > 20 * 1024 * 1024) { tell("文件太大，请上传 20 MB 以内的文件。", "error"); return; }
      var body = new FormData();
      body.append("reference", proof.reference);
      body.append("phone", proof.phone);
      body.append("file", file, file.name);
      $("evidence-submit").disabled = true;
      tell("正在上传…");
      fetch(API + "attachments", { method: "POST", body: body, credentials: "omit" })
        .then(function (response) {
          if (response.status === 201) {
            tell("已收到文件「" + file.name + "」，我们会尽快查看。", "ok");
            form.reset();
            return;
          }
          if (response.status === 413) { tell("文件太大，请上传 20 MB 以内的文件。", "error"); return; }
          if (response.status === 409) { tell("该投诉已结案或文件数量已满，无法继续上传。", "error"); return; }
          if (response.status === 422 || response.status === 415) {
            tell("不支持该文件，请上传照片、视频（MP4）、PDF 或 Office 文档。", "error");
            return;
          }
          tell(refusal(response, "没有找到这条投诉，请重新查询。"), "error");
        })
        .catch(function () { tell("网络不稳定，请稍后再试。", "error"); })
        .then(function () { $("evidence-submit").disabled = false; });
    });
  }

  function lookupPage() {
    var form = $("lookup");
    var proof = { reference: "", phone: "" };
    evidenceUpload(proof);
    var params = new URLSearchParams(location.search);
    if (params.get("reference")) { $("reference").value = params.get("reference"); }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var reference = $("reference").value.trim();
      var phone = $("phone").value.replace(/\s+/g, "");
      $("result").hidden = true;
      $("evidence").hidden = true;
      if (!reference || !phone) { say("请填写受理号和手机号码。", "error"); return; }
      say("正在查询…");
      $("lookup-submit").disabled = true;
      post("status-lookup", { reference: reference, phone: phone }).then(function (response) {
        if (!response.ok) {
          say(refusal(response, "没有找到这条投诉，请核对受理号和手机号码。"), "error");
          return null;
        }
        return response.json().then(function (found) {
          $("r-reference").textContent = found.reference;
          $("r-stage").textContent = found.stage;
          $("r-kind").textContent = KINDS[found.kind] || found.kind;
          $("r-registered").textContent = shanghai(found.registered_at);
          $("r-updated").textContent = shanghai(found.updated_at);
          $("r-deadline").textContent = found.next_deadline ? shanghai(found.next_deadline) + " 前" : "—";
          $("result").hidden = false;
          proof.reference = found.reference;
          proof.phone = phone;
          $("evidence").hidden = false;
          say("");
        });
      }).catch(function () {
        say("网络不稳定，请稍后再试。", "error");
      }).then(function () { $("lookup-submit").disabled = false; });
    });
  }

  function surveyPage() {
    var token = new URLSearchParams(location.search).get("token") || "";
    var chosen = 0;
    var buttons = document.querySelectorAll(".score");
    if (token.length < 10) {
      $("survey").hidden = true;
      say("评价链接不完整，请从短信中的链接打开本页。", "error");
      return;
    }
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        chosen = parseInt(button.getAttribute("data-score"), 10);
        Array.prototype.forEach.call(buttons, function (other) {
          other.setAttribute("aria-checked", other === button ? "true" : "false");
        });
        $("survey-submit").disabled = false;
      });
    });
    $("survey").addEventListener("submit", function (event) {
      event.preventDefault();
      if (!chosen) { say("请选择一项满意度。", "error"); return; }
      var body = { token: token, score: chosen };
      var comment = $("comment").value.trim();
      if (comment) { body.comment = comment; }
      $("survey-submit").disabled = true;
      say("正在提交…");
      post("survey", body).then(function (response) {
        if (response.status === 204) {
          $("survey").hidden = true;
          say(chosen >= 4 ? "感谢您的评价。我们会安排专人再次跟进您的问题。" : "感谢您的评价！", "ok");
          return;
        }
        say(refusal(response, "该评价链接已使用或已失效。"), "error");
        $("survey-submit").disabled = false;
      }).catch(function () {
        say("网络不稳定，请稍后再试。", "error");
        $("survey-submit").disabled = false;
      });
    });
  }

  if (document.body.getAttribute("data-page") === "survey") { surveyPage(); } else { lookupPage(); }
})();
